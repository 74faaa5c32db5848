// The power-loss file system itself: what survives SimulatePowerLoss().
#include "storage/testing/power_loss_fs.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/storage_test_util.h"

namespace herald::storage::testing {
namespace {

using rocksdb::FileOptions;
using rocksdb::IOOptions;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

class PowerLossFsTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(PowerLossMode::kDropUnsynced); }

  void Make(PowerLossMode mode, uint64_t seed = 1, bool fail_io_after_cut = false) {
    std::filesystem::create_directories(dir_.Sub("trash"));
    std::filesystem::create_directories(dir_.Sub("db"));
    PowerLossOptions options;
    options.mode = mode;
    options.seed = seed;
    options.trash_dir = dir_.Sub("trash");
    options.fail_io_after_cut = fail_io_after_cut;
    fs_ = std::make_shared<PowerLossFileSystem>(rocksdb::FileSystem::Default(), options);
  }

  std::string Path(const std::string& name) const { return dir_.Sub("db/" + name); }

  // Creates `name` with `content` (synced or not).
  void Write(const std::string& name, const std::string& content, bool sync) {
    std::unique_ptr<rocksdb::FSWritableFile> f;
    ASSERT_TRUE(fs_->NewWritableFile(Path(name), FileOptions(), &f, nullptr).ok());
    ASSERT_TRUE(f->Append(content, IOOptions(), nullptr).ok());
    if (sync) {
      ASSERT_TRUE(f->Sync(IOOptions(), nullptr).ok());
    }
    ASSERT_TRUE(f->Close(IOOptions(), nullptr).ok());
  }

  void SyncDir() {
    std::unique_ptr<rocksdb::FSDirectory> d;
    ASSERT_TRUE(fs_->NewDirectory(dir_.Sub("db"), IOOptions(), &d, nullptr).ok());
    ASSERT_TRUE(d->Fsync(IOOptions(), nullptr).ok());
  }

  void PowerLoss() { ASSERT_TRUE(fs_->SimulatePowerLoss().ok()); }

  TempDir dir_;
  std::shared_ptr<PowerLossFileSystem> fs_;
};

TEST_F(PowerLossFsTest, UnsyncedTailIsLostSyncedPrefixKept) {
  std::unique_ptr<rocksdb::FSWritableFile> f;
  ASSERT_TRUE(fs_->NewWritableFile(Path("a"), FileOptions(), &f, nullptr).ok());
  SyncDir();
  ASSERT_TRUE(f->Append("synced", IOOptions(), nullptr).ok());
  ASSERT_TRUE(f->Sync(IOOptions(), nullptr).ok());
  ASSERT_TRUE(f->Append("-lost", IOOptions(), nullptr).ok());
  ASSERT_TRUE(f->Close(IOOptions(), nullptr).ok());
  f.reset();
  EXPECT_EQ(ReadAll(Path("a")), "synced-lost");  // the page cache has it all
  PowerLoss();
  EXPECT_EQ(ReadAll(Path("a")), "synced");
}

TEST_F(PowerLossFsTest, NewFileWithoutDirectorySyncVanishes) {
  Write("a", "data", /*sync=*/true);
  PowerLoss();
  EXPECT_FALSE(Exists(Path("a")));
}

TEST_F(PowerLossFsTest, DirectorySyncMakesTheNameDurable) {
  Write("a", "data", /*sync=*/true);
  SyncDir();
  PowerLoss();
  EXPECT_EQ(ReadAll(Path("a")), "data");
}

TEST_F(PowerLossFsTest, RenameWithoutDirectorySyncIsUndone) {
  // The CURRENT dance: write a temp file, sync it, rename it over the old.
  Write("CURRENT", "old", true);
  SyncDir();
  Write("CURRENT.tmp", "new", true);
  ASSERT_TRUE(fs_->RenameFile(Path("CURRENT.tmp"), Path("CURRENT"), IOOptions(), nullptr).ok());
  EXPECT_EQ(ReadAll(Path("CURRENT")), "new");
  PowerLoss();
  EXPECT_EQ(ReadAll(Path("CURRENT")), "old");
  EXPECT_FALSE(Exists(Path("CURRENT.tmp")));  // its creation was never durable either
}

TEST_F(PowerLossFsTest, RenameWithDirectorySyncSticks) {
  Write("CURRENT", "old", true);
  SyncDir();
  Write("CURRENT.tmp", "new", true);
  ASSERT_TRUE(fs_->RenameFile(Path("CURRENT.tmp"), Path("CURRENT"), IOOptions(), nullptr).ok());
  SyncDir();
  PowerLoss();
  EXPECT_EQ(ReadAll(Path("CURRENT")), "new");
  EXPECT_FALSE(Exists(Path("CURRENT.tmp")));
}

TEST_F(PowerLossFsTest, DeleteWithoutDirectorySyncComesBack) {
  Write("a", "durable", true);
  SyncDir();
  ASSERT_TRUE(fs_->DeleteFile(Path("a"), IOOptions(), nullptr).ok());
  EXPECT_FALSE(Exists(Path("a")));
  PowerLoss();
  EXPECT_EQ(ReadAll(Path("a")), "durable");
  // And a synced delete is final.
  ASSERT_TRUE(fs_->DeleteFile(Path("a"), IOOptions(), nullptr).ok());
  SyncDir();
  PowerLoss();
  EXPECT_FALSE(Exists(Path("a")));
}

TEST_F(PowerLossFsTest, PreExistingFilesAreDurable) {
  { std::ofstream(Path("old"), std::ios::binary) << "before"; }
  std::unique_ptr<rocksdb::FSWritableFile> f;
  ASSERT_TRUE(fs_->ReopenWritableFile(Path("old"), FileOptions(), &f, nullptr).ok());
  ASSERT_TRUE(f->Append("+after", IOOptions(), nullptr).ok());
  f.reset();
  EXPECT_EQ(ReadAll(Path("old")), "before+after");
  PowerLoss();
  EXPECT_EQ(ReadAll(Path("old")), "before");
}

TEST_F(PowerLossFsTest, UntrackedFileOnARenamedDurableNameGivesWay) {
  // RocksDB's info LOG: renamed to LOG.old through us, recreated behind us.
  { std::ofstream(Path("LOG"), std::ios::binary) << "old log"; }
  ASSERT_TRUE(fs_->RenameFile(Path("LOG"), Path("LOG.old"), IOOptions(), nullptr).ok());
  { std::ofstream(Path("LOG"), std::ios::binary) << "new log"; }
  PowerLoss();
  EXPECT_EQ(ReadAll(Path("LOG")), "old log");
  EXPECT_FALSE(Exists(Path("LOG.old")));
}

TEST_F(PowerLossFsTest, OverwritingADurableFileKeepsTheOldContentUntilSynced) {
  Write("a", "old", true);
  SyncDir();
  Write("a", "replacement", /*sync=*/true);  // NewWritableFile truncates
  PowerLoss();
  EXPECT_EQ(ReadAll(Path("a")), "old");  // the new inode was never named durably
}

TEST_F(PowerLossFsTest, RandomRWInPlaceWritesRestoreTheSyncedSnapshot) {
  Write("rw", "", true);  // the posix RandomRWFile does not create files
  SyncDir();
  std::unique_ptr<rocksdb::FSRandomRWFile> f;
  ASSERT_TRUE(fs_->NewRandomRWFile(Path("rw"), FileOptions(), &f, nullptr).ok());
  ASSERT_TRUE(f->Write(0, "aaaa", IOOptions(), nullptr).ok());
  ASSERT_TRUE(f->Sync(IOOptions(), nullptr).ok());
  ASSERT_TRUE(f->Write(1, "bb", IOOptions(), nullptr).ok());
  EXPECT_EQ(ReadAll(Path("rw")), "abba");
  f.reset();
  PowerLoss();
  EXPECT_EQ(ReadAll(Path("rw")), "aaaa");
}

TEST_F(PowerLossFsTest, SyncLiesLosesEverythingWritten) {
  Make(PowerLossMode::kSyncLies);
  Write("a", "data", true);
  SyncDir();
  PowerLoss();
  EXPECT_FALSE(Exists(Path("a")));
}

TEST_F(PowerLossFsTest, TornWritesKeepAPrefixOfTheUnsyncedTail) {
  bool saw_partial = false;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Make(PowerLossMode::kTornWrites, seed);
    std::unique_ptr<rocksdb::FSWritableFile> f;
    ASSERT_TRUE(fs_->NewWritableFile(Path("t"), FileOptions(), &f, nullptr).ok());
    SyncDir();
    ASSERT_TRUE(f->Append("durable:", IOOptions(), nullptr).ok());
    ASSERT_TRUE(f->Sync(IOOptions(), nullptr).ok());
    ASSERT_TRUE(f->Append("0123456789", IOOptions(), nullptr).ok());
    f.reset();
    PowerLoss();
    const std::string got = ReadAll(Path("t"));
    ASSERT_EQ(got, std::string("durable:0123456789").substr(0, got.size())) << "seed " << seed;
    ASSERT_GE(got.size(), 8u) << "seed " << seed;
    saw_partial = saw_partial || (got.size() > 8 && got.size() < 18);
  }
  EXPECT_TRUE(saw_partial);
}

TEST_F(PowerLossFsTest, AfterTheCutNothingBecomesDurable) {
  std::unique_ptr<rocksdb::FSWritableFile> f;
  ASSERT_TRUE(fs_->NewWritableFile(Path("a"), FileOptions(), &f, nullptr).ok());
  SyncDir();
  ASSERT_TRUE(f->Append("before", IOOptions(), nullptr).ok());
  ASSERT_TRUE(f->Sync(IOOptions(), nullptr).ok());
  fs_->CutPowerAfter(1);
  // The disk still accepts everything, like a page cache, but keeps nothing.
  ASSERT_TRUE(f->Append("-after", IOOptions(), nullptr).ok());  // the cut
  EXPECT_FALSE(fs_->power_on());
  ASSERT_TRUE(f->Sync(IOOptions(), nullptr).ok());
  Write("b", "new", true);
  SyncDir();
  EXPECT_EQ(ReadAll(Path("a")), "before-after");
  f.reset();
  PowerLoss();
  EXPECT_TRUE(fs_->power_on());
  EXPECT_EQ(ReadAll(Path("a")), "before");
  EXPECT_FALSE(Exists(Path("b")));
}

TEST_F(PowerLossFsTest, FailIoAfterCutRejectsEveryChange) {
  Make(PowerLossMode::kDropUnsynced, 1, /*fail_io_after_cut=*/true);
  std::unique_ptr<rocksdb::FSWritableFile> f;
  ASSERT_TRUE(fs_->NewWritableFile(Path("a"), FileOptions(), &f, nullptr).ok());
  SyncDir();
  fs_->CutPowerAfter(2);
  ASSERT_TRUE(f->Append("one", IOOptions(), nullptr).ok());
  EXPECT_FALSE(f->Sync(IOOptions(), nullptr).ok());  // the second operation: power goes
  EXPECT_FALSE(fs_->power_on());
  EXPECT_FALSE(f->Append("two", IOOptions(), nullptr).ok());
  EXPECT_FALSE(fs_->RenameFile(Path("a"), Path("b"), IOOptions(), nullptr).ok());
  // Files must be closed before the power comes back.
  EXPECT_EQ(fs_->SimulatePowerLoss().code(), absl::StatusCode::kFailedPrecondition);
  f.reset();
  PowerLoss();
  EXPECT_TRUE(fs_->power_on());
  EXPECT_EQ(ReadAll(Path("a")), "");
}

// RocksDB itself on the file system: synced writes survive, unsynced ones
// written after the last sync do not.
TEST_F(PowerLossFsTest, RocksDbKeepsSyncedWritesAcrossPowerLoss) {
  auto env = rocksdb::NewCompositeEnv(fs_);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.env = env.get();
  const std::string path = dir_.Sub("rocks");
  for (int round = 0; round < 3; ++round) {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, &raw).ok()) << "round " << round;
    std::unique_ptr<rocksdb::DB> db(raw);
    for (int r = 0; r < round; ++r) {
      std::string v;
      EXPECT_TRUE(db->Get({}, "synced" + std::to_string(r), &v).ok()) << r;
      EXPECT_TRUE(db->Get({}, "unsynced" + std::to_string(r), &v).IsNotFound()) << r;
    }
    rocksdb::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE(db->Put(sync, "synced" + std::to_string(round), "v").ok());
    ASSERT_TRUE(db->Put({}, "unsynced" + std::to_string(round), "v").ok());
    fs_->CutPower();
    db.reset();  // closes against a dead disk: its flush cannot save anything
    PowerLoss();
  }
}

}  // namespace
}  // namespace herald::storage::testing
