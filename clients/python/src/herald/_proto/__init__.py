"""Generated protobuf and gRPC stubs for herald.v1 (scripts/gen-clients.sh; do not edit)."""
