#include "coordination/group_state.h"

#include "common/wire.h"

namespace herald::coordination {
namespace {

constexpr uint64_t kGroupEncodingVersion = 1;
// Bounds on decoded counts, so a corrupt record cannot make us allocate
// without limit.
constexpr uint64_t kMaxDecodedItems = 1 << 20;

void PutString(std::string* out, absl::string_view s) {
  wire::AppendVarint(out, s.size());
  out->append(s.data(), s.size());
}

class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool Varint(uint64_t* v) { return ok_ = ok_ && wire::ReadVarint(&in_, v); }
  bool Int(int64_t* v) {
    uint64_t u = 0;
    if (!Varint(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool Count(uint64_t* v) { return Varint(v) && (ok_ = *v <= kMaxDecodedItems); }
  bool String(std::string* s) {
    uint64_t n = 0;
    if (!Varint(&n) || n > in_.size()) return ok_ = false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }

 private:
  absl::string_view in_;
  bool ok_ = true;
};

bool DecodeStatic(Reader* r, DecodedStatic* s) {
  uint64_t topics = 0, parts = 0;
  if (!r->String(&s->instance_id) || !r->String(&s->client_id) || !r->Count(&topics)) return false;
  for (uint64_t i = 0; i < topics; ++i) {
    if (!r->String(&s->topics.emplace_back())) return false;
  }
  if (!r->String(&s->topic_regex) || !r->Int(&s->session_timeout_ms) || !r->Count(&parts)) {
    return false;
  }
  for (uint64_t i = 0; i < parts; ++i) {
    TopicPartition tp;
    int64_t p = 0;
    if (!r->String(&tp.topic) || !r->Int(&p)) return false;
    tp.partition = static_cast<int32_t>(p);
    s->owned.insert(std::move(tp));
  }
  return true;
}

}  // namespace

std::string EncodeGroup(const GroupCoordinator::Group& group) {
  std::string out;
  wire::AppendVarint(&out, kGroupEncodingVersion);
  wire::AppendVarint(&out, static_cast<uint64_t>(group.strategy));
  wire::AppendVarint(&out, static_cast<uint64_t>(group.generation));
  uint64_t statics = 0;
  for (const auto& [id, m] : group.members) statics += m.is_static() ? 1 : 0;
  wire::AppendVarint(&out, statics);
  for (const auto& [id, m] : group.members) {
    if (!m.is_static()) continue;
    PutString(&out, m.instance_id);
    PutString(&out, m.client_id);
    wire::AppendVarint(&out, m.topics.size());
    for (const auto& t : m.topics) PutString(&out, t);
    PutString(&out, m.topic_regex);
    wire::AppendVarint(&out, static_cast<uint64_t>(m.session_timeout_ms));
    wire::AppendVarint(&out, m.owned.size());
    for (const auto& tp : m.owned) {
      PutString(&out, tp.topic);
      wire::AppendVarint(&out, static_cast<uint64_t>(tp.partition));
    }
  }
  return out;
}

absl::StatusOr<DecodedGroup> DecodeGroup(absl::string_view encoded) {
  Reader r(encoded);
  DecodedGroup g;
  uint64_t version = 0, strategy = 0, statics = 0;
  if (!r.Varint(&version) || version != kGroupEncodingVersion) {
    return absl::DataLossError("group record: unknown encoding version");
  }
  if (!r.Varint(&strategy) || strategy > static_cast<uint64_t>(AssignmentStrategy::kRoundRobin) ||
      !r.Int(&g.generation) || !r.Count(&statics)) {
    return absl::DataLossError("group record: malformed header");
  }
  g.strategy = static_cast<AssignmentStrategy>(strategy);
  for (uint64_t i = 0; i < statics; ++i) {
    if (!DecodeStatic(&r, &g.statics.emplace_back())) {
      return absl::DataLossError("group record: malformed static member");
    }
  }
  if (!r.ok() || !r.done()) return absl::DataLossError("group record: trailing bytes");
  return g;
}

}  // namespace herald::coordination
