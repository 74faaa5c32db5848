{{- define "herald.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "herald.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "herald.labels" -}}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "herald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Cluster mode seed list: every pod as
id=<pod>.<headless>.<ns>.svc:<grpc>/<pod>.<headless>.<ns>.svc:<raft>, ids from 1.
*/}}
{{- define "herald.peers" -}}
{{- $name := include "herald.fullname" . -}}
{{- $peers := list -}}
{{- range $i := until (int .Values.replicaCount) -}}
{{- $host := printf "%s-%d.%s-headless.%s.svc" $name $i $name $.Release.Namespace -}}
{{- $peers = append $peers (printf "%d=%s:%v/%s:%v" (add $i 1) $host $.Values.ports.grpc $host $.Values.ports.raft) -}}
{{- end -}}
{{- join "," $peers -}}
{{- end -}}
