#pragma once
// PowerLossFileSystem (test only): a RocksDB FileSystem that can pull the plug.
//
// It wraps a real file system (normally rocksdb::FileSystem::Default()) and
// records, for every file written through it, what a power failure would
// leave on disk. Written bytes really go to the disk (through the page cache,
// as usual), so the code under test reads back exactly what it wrote; the
// bookkeeping only decides what survives SimulatePowerLoss().
//
// What is modelled (POSIX's guarantees, a little stricter than ext4's
// data=ordered mode, so that code relying on ext4 luck shows up):
//  * File data: bytes appended since the file's last Sync/Fsync are lost
//    (kDropUnsynced), or a random prefix of them survives (kTornWrites, a
//    torn last write). RangeSync (sync_file_range) does not make data durable.
//  * In-place writes (RandomRWFile, PositionedAppend or Truncate below the
//    durable size): the file's durable content is snapshotted before the
//    first such write and replaced at the next Sync; power loss restores it.
//  * Names: creating, renaming, linking or deleting a file is durable only
//    after an fsync of its parent directory (FSDirectory::Fsync). A file
//    fsync does NOT make its new name durable (ext4 usually would). After
//    power loss a file created since that directory's last fsync is gone,
//    a rename is undone and a deleted file comes back with its durable data.
//  * Directories themselves (CreateDir) and files not written through this
//    file system (RocksDB's LOCK and info LOG) are assumed durable.
//  * Files that existed before they were first touched through this object
//    count as durable.
// Not modelled: ReuseWritableFile (WAL recycling: NotSupported; RocksDB's
// recycle_log_file_num defaults to 0 and the log store keeps it), I/O errors
// while powered, bit flips, and out-of-order loss inside the unsynced tail
// (a torn write keeps a prefix; real disks may keep later sectors only).
//
// Syncs are bookkeeping only (no real fsync): tests stay fast, and the real
// disk's durability is irrelevant to a simulation.
//
// Use with an open database: CutPower() (or CutPowerAfter(n) to cut inside
// RocksDB at an arbitrary disk operation), then destroy the database object,
// then SimulatePowerLoss(). From the cut on, the durable state is frozen:
// by default the disk keeps working like a page cache (writes, renames and
// deletes apply, Sync returns OK) but nothing becomes durable any more, so
// the database's destructor (its orderly close, memtable flush, WAL sync)
// changes nothing that survives: the outcome is the same as pulling the
// plug at the cut. Callers must therefore ignore acknowledgements that
// arrive after the cut (check power_on() after the ack: if the power was
// still on, the sync behind the ack happened before the cut).
// With fail_io_after_cut every disk-changing call fails with IOError after
// the cut instead (exercises RocksDB's error paths; RocksDB 7.8 may then
// abort on an assertion in MemTable::ConstructFragmentedRangeTombstones when
// a failed memtable switch is retried, fixed upstream in rocksdb PR 12796).
// The database must be destroyed, not leaked: its background threads would
// otherwise keep writing into the files after the power comes back.
//
// Thread-safe: one mutex serialises every tracked operation.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace herald::storage::testing {

enum class PowerLossMode {
  kDropUnsynced,  // unsynced data and undurable names are lost
  kSyncLies,      // Sync/Fsync/directory fsync return OK but do nothing
  kTornWrites,    // like kDropUnsynced, but a random prefix of the unsynced tail survives
};

struct PowerLossOptions {
  PowerLossMode mode = PowerLossMode::kDropUnsynced;
  // Seeds the torn-write lengths (kTornWrites).
  uint64_t seed = 1;
  // Required: an existing, empty directory on the same file system as the
  // files (hard links keep the durable content of deleted/replaced files).
  std::string trash_dir;
  // After the cut, fail every disk-changing call (see above) instead of
  // accepting it without durability.
  bool fail_io_after_cut = false;
};

class PowerLossFileSystem : public rocksdb::FileSystemWrapper {
 public:
  // One file (inode) written through this object. Guarded by mu_.
  struct Node {
    uint64_t id = 0;
    uint64_t size = 0;          // bytes written
    uint64_t durable_size = 0;  // bytes that survive power loss
    uint64_t cut_size = 0;      // bytes written before the cut (a torn write tears only these)
    // Set once the file was changed in place below durable_size: then
    // `snapshot` is the durable content (refreshed at each sync).
    bool has_snapshot = false;
    std::string snapshot;
    bool in_trash = false;  // a hard link in trash_dir keeps the inode alive
  };
  // WriteAt's offset for "at the end" (WritableFile::Append).
  static constexpr uint64_t kAppendOffset = UINT64_MAX;

  PowerLossFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base, PowerLossOptions options);
  ~PowerLossFileSystem() override;

  static const char* kClassName() { return "HeraldPowerLossFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // Turns the power off now: nothing becomes durable any more. Idempotent.
  void CutPower();
  // Turns the power off at the `ops`-th disk-changing operation from now
  // (that operation is already after the cut). ops <= 0 disarms.
  void CutPowerAfter(int64_t ops);
  bool power_on() const;

  // Cuts the power if it is on, rewrites every tracked file and name on the
  // real disk to its durable state (see above), forgets all tracking (what is
  // on disk now is durable) and turns the power back on.
  // FAILED_PRECONDITION if a file opened through this object is still open
  // (destroy the database first).
  absl::Status SimulatePowerLoss();

  // Counters for tests: disk-changing operations attempted (what
  // CutPowerAfter counts), data syncs and directory fsyncs that took effect.
  int64_t operations() const;
  int64_t file_syncs() const;
  int64_t dir_syncs() const;

  // rocksdb::FileSystem: the operations that change the disk.
  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& opts,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& io_opts,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& fname, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& src, const std::string& target,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& dirname,
                                       const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;

  // Called by the file and directory wrappers (power_loss_files.cc), which
  // hold the node of the file they write.
  rocksdb::IOStatus WriteAt(Node* node, const std::function<rocksdb::IOStatus()>& write,
                            uint64_t offset, uint64_t length);
  rocksdb::IOStatus TruncateNode(Node* node, const std::function<rocksdb::IOStatus()>& truncate,
                                 uint64_t size);
  rocksdb::IOStatus SyncNode(Node* node);
  rocksdb::IOStatus SyncDir(const std::string& dir);
  void FileClosed();

 private:
  using NodePtr = std::shared_ptr<Node>;

  // Requires mu_. Counts the operation, cuts the power when armed; IOError
  // when the power is off and fail_io_after_cut.
  rocksdb::IOStatus GateLocked();
  // GateLocked under mu_, for calls that only need the check.
  rocksdb::IOStatus Gate();
  // Starts tracking a file that exists on disk but not yet in current_.
  void AdoptLocked(const std::string& path);
  // Removes `path` from current_, keeping the node's content in the trash
  // when a durable name still refers to it.
  rocksdb::IOStatus RemoveNameLocked(const std::string& path);
  rocksdb::IOStatus PreserveLocked(const NodePtr& node);
  bool DurablyNamedLocked(const Node* node) const;
  int CurrentNamesLocked(const Node* node) const;
  std::string LocateLocked(const Node* node) const;
  std::string TrashPath(const Node* node) const;
  // Snapshots the durable content before an in-place change at `offset`.
  rocksdb::IOStatus BeforeInPlaceLocked(Node* node, uint64_t offset);
  void CollectTrashLocked();
  rocksdb::IOStatus RestoreNodeLocked(Node* node);
  rocksdb::IOStatus OpenTracked(const std::string& fname, bool keep_content,
                                const std::function<rocksdb::IOStatus()>& open, NodePtr* node);

  const PowerLossOptions options_;
  mutable std::mutex mu_;
  bool dead_ = false;                       // guarded by mu_
  int64_t cut_countdown_ = 0;               // guarded by mu_
  uint64_t next_id_ = 1;                    // guarded by mu_
  int64_t open_files_ = 0;                  // guarded by mu_
  int64_t operations_ = 0;                  // guarded by mu_
  int64_t file_syncs_ = 0;                  // guarded by mu_
  int64_t dir_syncs_ = 0;                   // guarded by mu_
  std::map<std::string, NodePtr> current_;  // names on disk now; guarded by mu_
  std::map<std::string, NodePtr> durable_;  // names that survive; guarded by mu_
  std::map<uint64_t, NodePtr> trash_;       // content kept for durable names; guarded by mu_
  std::mt19937_64 rng_;                     // guarded by mu_
};

}  // namespace herald::storage::testing
