#include "storage/testing/power_loss_fs.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/testing/power_loss_files.h"

namespace herald::storage::testing {
namespace {

namespace fs = std::filesystem;

// RocksDB names files "dir/name" (sometimes with doubled or trailing
// slashes); one spelling per file keeps the maps consistent.
std::string Normalize(const std::string& path) {
  std::string p = fs::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string ParentOf(const std::string& normalized) {
  return fs::path(normalized).parent_path().string();
}

rocksdb::IOStatus PowerOff() { return rocksdb::IOStatus::IOError("power is off (simulated)"); }

rocksdb::IOStatus FromErrorCode(const std::error_code& ec, const std::string& what) {
  if (!ec) return rocksdb::IOStatus::OK();
  return rocksdb::IOStatus::IOError(absl::StrCat(what, ": ", ec.message()));
}

std::string ReadPrefix(const std::string& path, uint64_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string out(bytes, '\0');
  in.read(out.data(), static_cast<std::streamsize>(bytes));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

}  // namespace

PowerLossFileSystem::PowerLossFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base,
                                         PowerLossOptions options)
    : rocksdb::FileSystemWrapper(base), options_(std::move(options)), rng_(options_.seed) {}

PowerLossFileSystem::~PowerLossFileSystem() = default;

void PowerLossFileSystem::CutPower() {
  std::lock_guard<std::mutex> lock(mu_);
  dead_ = true;
}

void PowerLossFileSystem::CutPowerAfter(int64_t ops) {
  std::lock_guard<std::mutex> lock(mu_);
  cut_countdown_ = ops > 0 ? ops : 0;
}

bool PowerLossFileSystem::power_on() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !dead_;
}

int64_t PowerLossFileSystem::operations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return operations_;
}

int64_t PowerLossFileSystem::file_syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return file_syncs_;
}

int64_t PowerLossFileSystem::dir_syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dir_syncs_;
}

void PowerLossFileSystem::FileClosed() {
  std::lock_guard<std::mutex> lock(mu_);
  --open_files_;
}

rocksdb::IOStatus PowerLossFileSystem::GateLocked() {
  ++operations_;
  if (!dead_ && cut_countdown_ > 0 && --cut_countdown_ == 0) dead_ = true;
  return dead_ && options_.fail_io_after_cut ? PowerOff() : rocksdb::IOStatus::OK();
}

rocksdb::IOStatus PowerLossFileSystem::Gate() {
  std::lock_guard<std::mutex> lock(mu_);
  return GateLocked();
}

std::string PowerLossFileSystem::TrashPath(const Node* node) const {
  return absl::StrCat(options_.trash_dir, "/", node->id);
}

// ---- Names ----------------------------------------------------------------

void PowerLossFileSystem::AdoptLocked(const std::string& path) {
  if (current_.count(path) != 0) return;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  auto node = std::make_shared<Node>();
  node->id = next_id_++;
  node->size = node->durable_size = node->cut_size = static_cast<uint64_t>(st.st_size);
  current_[path] = node;
  durable_.emplace(path, node);  // never replaces a tracked durable name
}

bool PowerLossFileSystem::DurablyNamedLocked(const Node* node) const {
  for (const auto& [path, n] : durable_) {
    if (n.get() == node) return true;
  }
  return false;
}

int PowerLossFileSystem::CurrentNamesLocked(const Node* node) const {
  int names = 0;
  for (const auto& [path, n] : current_) names += n.get() == node ? 1 : 0;
  return names;
}

std::string PowerLossFileSystem::LocateLocked(const Node* node) const {
  for (const auto& [path, n] : current_) {
    if (n.get() == node) return path;
  }
  return node->in_trash ? TrashPath(node) : std::string();
}

// Hard-links the node's inode into the trash so its content outlives its
// last current name.
rocksdb::IOStatus PowerLossFileSystem::PreserveLocked(const NodePtr& node) {
  if (node->in_trash) return rocksdb::IOStatus::OK();
  std::error_code ec;
  fs::create_hard_link(LocateLocked(node.get()), TrashPath(node.get()), ec);
  if (ec) return FromErrorCode(ec, "power-loss trash link");
  node->in_trash = true;
  trash_[node->id] = node;
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus PowerLossFileSystem::RemoveNameLocked(const std::string& path) {
  NodePtr node = current_.at(path);
  if (CurrentNamesLocked(node.get()) == 1 && DurablyNamedLocked(node.get())) {
    if (auto s = PreserveLocked(node); !s.ok()) return s;
  }
  auto s = target()->DeleteFile(path, rocksdb::IOOptions(), nullptr);
  if (s.ok()) current_.erase(path);
  return s;
}

// Trash entries are needed only while a durable name refers to them.
void PowerLossFileSystem::CollectTrashLocked() {
  for (auto it = trash_.begin(); it != trash_.end();) {
    if (DurablyNamedLocked(it->second.get())) {
      ++it;
      continue;
    }
    std::error_code ignored;  // a leftover trash file only costs disk space
    fs::remove(TrashPath(it->second.get()), ignored);
    it->second->in_trash = false;
    it = trash_.erase(it);
  }
}

rocksdb::IOStatus PowerLossFileSystem::SyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = GateLocked(); !s.ok()) return s;
  if (dead_ || options_.mode == PowerLossMode::kSyncLies) return rocksdb::IOStatus::OK();
  ++dir_syncs_;
  const std::string d = Normalize(dir);
  for (auto it = durable_.begin(); it != durable_.end();) {
    it = ParentOf(it->first) == d ? durable_.erase(it) : std::next(it);
  }
  for (const auto& [path, node] : current_) {
    if (ParentOf(path) == d) durable_[path] = node;
  }
  CollectTrashLocked();
  return rocksdb::IOStatus::OK();
}

// ---- Data -----------------------------------------------------------------

rocksdb::IOStatus PowerLossFileSystem::BeforeInPlaceLocked(Node* node, uint64_t offset) {
  if (offset >= node->durable_size || node->has_snapshot) return rocksdb::IOStatus::OK();
  const std::string where = LocateLocked(node);
  if (where.empty()) return rocksdb::IOStatus::IOError("power-loss: file has no name");
  node->snapshot = ReadPrefix(where, node->durable_size);
  node->has_snapshot = true;
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus PowerLossFileSystem::WriteAt(Node* node,
                                               const std::function<rocksdb::IOStatus()>& write,
                                               uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = GateLocked(); !s.ok()) return s;
  const bool append = offset == kAppendOffset;
  if (!append) {
    if (auto s = BeforeInPlaceLocked(node, offset); !s.ok()) return s;
  }
  auto s = write();
  if (s.ok()) node->size = std::max(node->size, (append ? node->size : offset) + length);
  if (!dead_) node->cut_size = node->size;
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::TruncateNode(
    Node* node, const std::function<rocksdb::IOStatus()>& truncate, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = GateLocked(); !s.ok()) return s;
  if (auto s = BeforeInPlaceLocked(node, size); !s.ok()) return s;
  auto s = truncate();
  if (s.ok()) node->size = size;
  if (!dead_) node->cut_size = node->size;
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::SyncNode(Node* node) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = GateLocked(); !s.ok()) return s;
  if (dead_ || options_.mode == PowerLossMode::kSyncLies) return rocksdb::IOStatus::OK();
  ++file_syncs_;
  node->durable_size = node->size;
  if (node->has_snapshot) {
    const std::string where = LocateLocked(node);
    if (!where.empty()) node->snapshot = ReadPrefix(where, node->size);
  }
  return rocksdb::IOStatus::OK();
}

// ---- Power loss -----------------------------------------------------------

// Cuts the node's file (kept in the trash) down to what survives.
rocksdb::IOStatus PowerLossFileSystem::RestoreNodeLocked(Node* node) {
  const std::string path = TrashPath(node);
  if (node->has_snapshot) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(node->snapshot.data(), static_cast<std::streamsize>(node->snapshot.size()));
    out.close();
    return out ? rocksdb::IOStatus::OK() : rocksdb::IOStatus::IOError("power-loss restore");
  }
  uint64_t keep = std::min(node->durable_size, node->size);
  // Only bytes written before the cut can survive a torn write.
  const uint64_t written = std::min(node->cut_size, node->size);
  if (options_.mode == PowerLossMode::kTornWrites && written > keep) {
    keep += rng_() % (written - keep + 1);
  }
  std::error_code ec;
  fs::resize_file(path, keep, ec);
  return FromErrorCode(ec, "power-loss truncate");
}

absl::Status PowerLossFileSystem::SimulatePowerLoss() {
  std::lock_guard<std::mutex> lock(mu_);
  dead_ = true;
  if (open_files_ > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(open_files_, " files are still open: destroy the database first"));
  }
  std::map<uint64_t, NodePtr> survivors;  // by id: torn lengths are drawn in a fixed order
  for (const auto& [path, node] : durable_) survivors[node->id] = node;
  for (const auto& [id, node] : survivors) {
    if (auto s = PreserveLocked(node); !s.ok()) return absl::InternalError(s.ToString());
  }
  for (const auto& [path, node] : current_) {
    std::error_code ec;
    fs::remove(path, ec);
    if (ec) return absl::InternalError(absl::StrCat("removing ", path, ": ", ec.message()));
  }
  for (const auto& [id, node] : survivors) {
    if (auto s = RestoreNodeLocked(node.get()); !s.ok()) return absl::InternalError(s.ToString());
  }
  for (const auto& [path, node] : durable_) {
    // A file created behind our back (RocksDB's info LOG, opened by the base
    // file system's NewLogger) may sit on a durable name: the durable one wins.
    std::error_code ec;
    fs::remove(path, ec);
    fs::create_hard_link(TrashPath(node.get()), path, ec);
    if (ec) return absl::InternalError(absl::StrCat("restoring ", path, ": ", ec.message()));
  }
  for (const auto& [id, node] : trash_) {
    std::error_code ignored;
    fs::remove(TrashPath(node.get()), ignored);
  }
  current_.clear();
  durable_.clear();
  trash_.clear();
  dead_ = false;
  cut_countdown_ = 0;
  return absl::OkStatus();
}

// ---- FileSystem operations ------------------------------------------------

rocksdb::IOStatus PowerLossFileSystem::OpenTracked(const std::string& fname, bool keep_content,
                                                   const std::function<rocksdb::IOStatus()>& open,
                                                   NodePtr* node) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = GateLocked(); !s.ok()) return s;
  AdoptLocked(fname);
  if (!keep_content && current_.count(fname) != 0) {
    // Replacing a file: the old inode may still be what a durable name shows.
    if (auto s = RemoveNameLocked(fname); !s.ok()) return s;
  }
  auto s = open();
  if (!s.ok()) return s;
  auto it = current_.find(fname);
  if (it == current_.end()) {
    auto fresh = std::make_shared<Node>();
    fresh->id = next_id_++;
    it = current_.emplace(fname, std::move(fresh)).first;
  }
  *node = it->second;
  ++open_files_;
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::NewWritableFile(
    const std::string& fname, const rocksdb::FileOptions& opts,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  const std::string path = Normalize(fname);
  std::unique_ptr<rocksdb::FSWritableFile> file;
  NodePtr node;
  auto s = OpenTracked(
      path, /*keep_content=*/false,
      [&] { return target()->NewWritableFile(path, opts, &file, dbg); }, &node);
  if (s.ok()) *result = std::make_unique<TrackedWritableFile>(std::move(file), this, node);
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::ReopenWritableFile(
    const std::string& fname, const rocksdb::FileOptions& opts,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  const std::string path = Normalize(fname);
  std::unique_ptr<rocksdb::FSWritableFile> file;
  NodePtr node;
  auto s = OpenTracked(
      path, /*keep_content=*/true,
      [&] { return target()->ReopenWritableFile(path, opts, &file, dbg); }, &node);
  if (s.ok()) *result = std::make_unique<TrackedWritableFile>(std::move(file), this, node);
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::ReuseWritableFile(
    const std::string& /*fname*/, const std::string& /*old_fname*/,
    const rocksdb::FileOptions& /*opts*/, std::unique_ptr<rocksdb::FSWritableFile>* /*result*/,
    rocksdb::IODebugContext* /*dbg*/) {
  return rocksdb::IOStatus::NotSupported("PowerLossFileSystem does not model WAL recycling");
}

rocksdb::IOStatus PowerLossFileSystem::NewRandomRWFile(
    const std::string& fname, const rocksdb::FileOptions& opts,
    std::unique_ptr<rocksdb::FSRandomRWFile>* result, rocksdb::IODebugContext* dbg) {
  const std::string path = Normalize(fname);
  std::unique_ptr<rocksdb::FSRandomRWFile> file;
  NodePtr node;
  auto s = OpenTracked(
      path, /*keep_content=*/true,
      [&] { return target()->NewRandomRWFile(path, opts, &file, dbg); }, &node);
  if (s.ok()) *result = std::make_unique<TrackedRandomRWFile>(std::move(file), this, node);
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::NewDirectory(const std::string& name,
                                                    const rocksdb::IOOptions& io_opts,
                                                    std::unique_ptr<rocksdb::FSDirectory>* result,
                                                    rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> dir;
  auto s = target()->NewDirectory(name, io_opts, &dir, dbg);
  if (s.ok()) *result = std::make_unique<TrackedDirectory>(std::move(dir), this, Normalize(name));
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::DeleteFile(const std::string& fname,
                                                  const rocksdb::IOOptions& options,
                                                  rocksdb::IODebugContext* dbg) {
  const std::string path = Normalize(fname);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = GateLocked(); !s.ok()) return s;
  AdoptLocked(path);
  if (current_.count(path) == 0) return target()->DeleteFile(path, options, dbg);
  return RemoveNameLocked(path);
}

rocksdb::IOStatus PowerLossFileSystem::Truncate(const std::string& fname, size_t size,
                                                const rocksdb::IOOptions& options,
                                                rocksdb::IODebugContext* dbg) {
  const std::string path = Normalize(fname);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = GateLocked(); !s.ok()) return s;
  AdoptLocked(path);
  auto it = current_.find(path);
  if (it == current_.end()) return target()->Truncate(path, size, options, dbg);
  if (auto s = BeforeInPlaceLocked(it->second.get(), size); !s.ok()) return s;
  auto s = target()->Truncate(path, size, options, dbg);
  if (s.ok()) it->second->size = size;
  if (!dead_) it->second->cut_size = it->second->size;
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::RenameFile(const std::string& src, const std::string& dst,
                                                  const rocksdb::IOOptions& options,
                                                  rocksdb::IODebugContext* dbg) {
  const std::string from = Normalize(src), to = Normalize(dst);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = GateLocked(); !s.ok()) return s;
  AdoptLocked(from);
  AdoptLocked(to);
  auto it = current_.find(from);
  if (it == current_.end()) return target()->RenameFile(from, to, options, dbg);
  NodePtr node = it->second;
  auto old = current_.find(to);
  if (old != current_.end() && old->second == node) return rocksdb::IOStatus::OK();  // as POSIX
  if (old != current_.end() && CurrentNamesLocked(old->second.get()) == 1 &&
      DurablyNamedLocked(old->second.get())) {
    // The replaced file loses its last name, but a durable name shows it.
    if (auto s = PreserveLocked(old->second); !s.ok()) return s;
  }
  auto s = target()->RenameFile(from, to, options, dbg);
  if (!s.ok()) return s;
  current_.erase(from);
  current_[to] = node;
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::LinkFile(const std::string& src, const std::string& dst,
                                                const rocksdb::IOOptions& options,
                                                rocksdb::IODebugContext* dbg) {
  const std::string from = Normalize(src), to = Normalize(dst);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = GateLocked(); !s.ok()) return s;
  AdoptLocked(from);
  auto s = target()->LinkFile(from, to, options, dbg);
  auto it = current_.find(from);
  if (s.ok() && it != current_.end()) current_[to] = it->second;
  return s;
}

rocksdb::IOStatus PowerLossFileSystem::CreateDir(const std::string& dirname,
                                                 const rocksdb::IOOptions& options,
                                                 rocksdb::IODebugContext* dbg) {
  if (auto s = Gate(); !s.ok()) return s;
  return target()->CreateDir(dirname, options, dbg);
}

rocksdb::IOStatus PowerLossFileSystem::CreateDirIfMissing(const std::string& dirname,
                                                          const rocksdb::IOOptions& options,
                                                          rocksdb::IODebugContext* dbg) {
  if (auto s = Gate(); !s.ok()) return s;
  return target()->CreateDirIfMissing(dirname, options, dbg);
}

rocksdb::IOStatus PowerLossFileSystem::DeleteDir(const std::string& dirname,
                                                 const rocksdb::IOOptions& options,
                                                 rocksdb::IODebugContext* dbg) {
  if (auto s = Gate(); !s.ok()) return s;
  return target()->DeleteDir(dirname, options, dbg);
}

}  // namespace herald::storage::testing
