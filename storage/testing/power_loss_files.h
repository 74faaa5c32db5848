#pragma once
// The file and directory wrappers of PowerLossFileSystem (internal to
// power_loss_fs.cc). Every call that changes the disk goes through the file
// system's lock and bookkeeping; reads, Close and Flush go straight through.
#include <memory>
#include <string>
#include <utility>

#include "rocksdb/file_system.h"
#include "storage/testing/power_loss_fs.h"

namespace herald::storage::testing {

class TrackedWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  TrackedWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, PowerLossFileSystem* fs,
                      std::shared_ptr<PowerLossFileSystem::Node> node)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), node_(std::move(node)) {}
  ~TrackedWritableFile() override { fs_->FileClosed(); }

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    return fs_->WriteAt(
        node_.get(), [&] { return target()->Append(data, options, dbg); },
        PowerLossFileSystem::kAppendOffset, data.size());
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    return fs_->WriteAt(
        node_.get(), [&] { return target()->Append(data, options, info, dbg); },
        PowerLossFileSystem::kAppendOffset, data.size());
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    return fs_->WriteAt(
        node_.get(), [&] { return target()->PositionedAppend(data, offset, options, dbg); }, offset,
        data.size());
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    return fs_->WriteAt(
        node_.get(), [&] { return target()->PositionedAppend(data, offset, options, info, dbg); },
        offset, data.size());
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    return fs_->TruncateNode(
        node_.get(), [&] { return target()->Truncate(size, options, dbg); }, size);
  }
  // Bookkeeping only: no real fsync (see power_loss_fs.h).
  rocksdb::IOStatus Sync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return fs_->SyncNode(node_.get());
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return fs_->SyncNode(node_.get());
  }
  // sync_file_range guarantees nothing after a power failure.
  rocksdb::IOStatus RangeSync(uint64_t, uint64_t, const rocksdb::IOOptions&,
                              rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();
  }

 private:
  PowerLossFileSystem* const fs_;
  const std::shared_ptr<PowerLossFileSystem::Node> node_;
};

class TrackedRandomRWFile final : public rocksdb::FSRandomRWFileOwnerWrapper {
 public:
  TrackedRandomRWFile(std::unique_ptr<rocksdb::FSRandomRWFile> file, PowerLossFileSystem* fs,
                      std::shared_ptr<PowerLossFileSystem::Node> node)
      : rocksdb::FSRandomRWFileOwnerWrapper(std::move(file)), fs_(fs), node_(std::move(node)) {}
  ~TrackedRandomRWFile() override { fs_->FileClosed(); }

  rocksdb::IOStatus Write(uint64_t offset, const rocksdb::Slice& data,
                          const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return fs_->WriteAt(
        node_.get(), [&] { return target()->Write(offset, data, options, dbg); }, offset,
        data.size());
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return fs_->SyncNode(node_.get());
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return fs_->SyncNode(node_.get());
  }

 private:
  PowerLossFileSystem* const fs_;
  const std::shared_ptr<PowerLossFileSystem::Node> node_;
};

class TrackedDirectory final : public rocksdb::FSDirectory {
 public:
  TrackedDirectory(std::unique_ptr<rocksdb::FSDirectory> dir, PowerLossFileSystem* fs,
                   std::string path)
      : dir_(std::move(dir)), fs_(fs), path_(std::move(path)) {}

  rocksdb::IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    return fs_->SyncDir(path_);
  }
  // Whatever the reason (RocksDB passes one for renames), a full directory
  // fsync: the file system under the test is not btrfs.
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions&, rocksdb::IODebugContext*,
                                        const rocksdb::DirFsyncOptions&) override {
    return fs_->SyncDir(path_);
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return dir_->Close(options, dbg);
  }
  size_t GetUniqueId(char* id, size_t max_size) const override {
    return dir_->GetUniqueId(id, max_size);
  }

 private:
  std::unique_ptr<rocksdb::FSDirectory> dir_;
  PowerLossFileSystem* const fs_;
  const std::string path_;
};

}  // namespace herald::storage::testing
