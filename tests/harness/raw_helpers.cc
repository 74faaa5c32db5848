// The parts of client_helpers.h that work below the generated stubs: plain
// HTTP, Prometheus text parsing, and generic (ByteBuffer) gRPC calls.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <regex>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/wire.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "tests/harness/client_helpers.h"

namespace herald::testing {
namespace {

std::chrono::system_clock::time_point DeadlineIn(int64_t ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// Waits for the single outstanding operation on `cq`.
bool AwaitOne(grpc::CompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  if (!cq->Next(&tag, &ok)) return false;
  return ok;
}

void DrainAndShutdown(grpc::CompletionQueue* cq) {
  cq->Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
  }
}

absl::Status SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
    sent += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Labels of one sample line: `{a="x",b="y"}` -> contains check per pair.
bool LabelsMatch(const std::string& label_block,
                 const std::vector<std::pair<std::string, std::string>>& labels) {
  for (const auto& [name, value] : labels) {
    if (label_block.find(absl::StrCat(name, "=\"", value, "\"")) == std::string::npos) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& path, int64_t timeout_ms) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  timeval tv{static_cast<time_t>(timeout_ms / 1000),
             static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const std::string error = strerror(errno);
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect to port ", port, ": ", error));
  }
  absl::Status sent =
      SendAll(fd, absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"));
  std::string raw;
  char buffer[16384];
  constexpr size_t kMaxResponseBytes = 64 << 20;  // A bound, not an expectation.
  while (sent.ok() && raw.size() < kMaxResponseBytes) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0) sent = absl::DeadlineExceededError(absl::StrCat("recv: ", strerror(errno)));
    if (n <= 0) break;
    raw.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (!sent.ok()) return sent;
  const size_t header_end = raw.find("\r\n\r\n");
  HttpResponse response;
  if (raw.rfind("HTTP/1.", 0) != 0 || header_end == std::string::npos || raw.size() < 12 ||
      !absl::SimpleAtoi(raw.substr(9, 3), &response.status_code)) {
    return absl::DataLossError(absl::StrCat("malformed HTTP response: ", raw.substr(0, 200)));
  }
  response.body = raw.substr(header_end + 4);
  return response;
}

std::optional<double> MetricValue(const std::string& exposition, const std::string& name,
                                  const std::vector<std::pair<std::string, std::string>>& labels) {
  std::istringstream lines(exposition);
  std::string line;
  std::optional<double> sum;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string::npos || line.substr(0, name_end) != name) continue;
    std::string label_block;
    size_t value_start = name_end;
    if (line[name_end] == '{') {
      const size_t close = line.rfind('}');
      if (close == std::string::npos) continue;
      label_block = line.substr(name_end, close - name_end + 1);
      value_start = close + 1;
    }
    if (!LabelsMatch(label_block, labels)) continue;
    std::istringstream value_stream(line.substr(value_start));
    std::string value_text;
    value_stream >> value_text;
    double value = 0;
    if (!absl::SimpleAtod(value_text, &value)) continue;
    sum = sum.value_or(0) + value;
  }
  return sum;
}

absl::Status ValidatePrometheusText(const std::string& exposition) {
  // Values follow Go's ParseFloat (Prometheus' parser): Inf/NaN in any case.
  static const std::regex kSample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? )"
      R"(([-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|[Ii][Nn][Ff]([Ii][Nn][Ii][Tt][Yy])?|[Nn][Aa][Nn]))( -?[0-9]+)?$)");
  static const std::regex kType(
      R"(^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex kHelp(R"(^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  std::istringstream lines(exposition);
  std::string line;
  int line_number = 0;
  int samples = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line.empty()) continue;
    bool valid = false;
    if (line.rfind("# TYPE", 0) == 0) {
      valid = std::regex_match(line, kType);
    } else if (line.rfind("# HELP", 0) == 0) {
      valid = std::regex_match(line, kHelp);
    } else if (line[0] == '#') {
      valid = true;  // Other comments are allowed.
    } else {
      valid = std::regex_match(line, kSample);
      ++samples;
    }
    if (!valid) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": '", line, "'"));
    }
  }
  if (samples == 0) return absl::InvalidArgumentError("no samples");
  return absl::OkStatus();
}

GenericResult GenericUnary(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                           const std::string& request, int64_t timeout_ms) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout_ms));
  GenericResult result;
  grpc::ByteBuffer response;
  {
    auto call = stub.PrepareUnaryCall(&context, method, ToByteBuffer(request), &cq);
    call->StartCall();
    call->Finish(&response, &result.status, &cq);
    AwaitOne(&cq);
  }
  if (result.status.ok()) result.responses.push_back(FromByteBuffer(response));
  DrainAndShutdown(&cq);
  return result;
}

GenericResult GenericBidi(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                          const std::vector<std::string>& requests, int64_t timeout_ms) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout_ms));
  GenericResult result;
  {
    // One operation at a time, so each AwaitOne matches the op just started.
    auto call = stub.PrepareCall(&context, method, &cq);
    call->StartCall(&cq);
    bool open = AwaitOne(&cq);
    for (const std::string& request : requests) {
      if (!open) break;
      call->Write(ToByteBuffer(request), &cq);
      open = AwaitOne(&cq);
    }
    if (open) {
      call->WritesDone(&cq);
      AwaitOne(&cq);
    }
    while (true) {
      grpc::ByteBuffer response;
      call->Read(&response, &cq);
      if (!AwaitOne(&cq)) break;
      result.responses.push_back(FromByteBuffer(response));
    }
    call->Finish(&result.status, &cq);
    AwaitOne(&cq);
  }
  DrainAndShutdown(&cq);
  return result;
}

absl::StatusOr<int> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& service) {
  std::string request;  // grpc.health.v1.HealthCheckRequest{service = 1}
  if (!service.empty()) {
    wire::AppendTag(&request, 1, wire::kLengthDelimited);
    wire::AppendVarint(&request, service.size());
    request.append(service);
  }
  GenericResult result = GenericUnary(channel, "/grpc.health.v1.Health/Check", request, 5000);
  if (!result.status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(result.status.error_code()),
                        result.status.error_message());
  }
  absl::string_view in = result.responses[0];
  int serving_status = 0;  // UNKNOWN: proto3 omits a zero enum.
  wire::Field field;
  while (!in.empty()) {
    if (!wire::ReadField(&in, &field)) return absl::DataLossError("bad HealthCheckResponse");
    if (field.number == 1 && field.type == wire::kVarint) {
      serving_status = static_cast<int>(field.varint);
    }
  }
  return serving_status;
}

absl::StatusOr<std::vector<std::string>> ListReflectionServices(
    const std::shared_ptr<grpc::Channel>& channel) {
  // ServerReflectionRequest{list_services (7) = ""}.
  std::string request;
  wire::AppendTag(&request, 7, wire::kLengthDelimited);
  wire::AppendVarint(&request, 0);
  GenericResult result = GenericBidi(
      channel, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", {request}, 5000);
  if (!result.status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(result.status.error_code()),
                        result.status.error_message());
  }
  std::vector<std::string> services;
  for (const std::string& response : result.responses) {
    absl::string_view in = response;
    wire::Field field;
    while (!in.empty()) {
      if (!wire::ReadField(&in, &field)) return absl::DataLossError("bad reflection response");
      if (field.number != 6) continue;  // list_services_response
      absl::string_view list = field.body;
      wire::Field service;
      while (!list.empty() && wire::ReadField(&list, &service)) {
        absl::string_view body = service.body;  // ServiceResponse{name = 1}
        wire::Field name;
        while (!body.empty() && wire::ReadField(&body, &name)) {
          if (name.number == 1) services.emplace_back(name.body);
        }
      }
    }
  }
  return services;
}

}  // namespace herald::testing
