// sim/files: moesim removes only what it proves it created, never replaces what is not a regular
// file, and never writes over one of its own inputs.
#include "sim/files/output_file.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sim/files/directory_lock.h"

namespace moesim::files {
namespace {

namespace fs = std::filesystem;

class Files : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moesim-files-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::set<std::string> names() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.insert(e.path().filename().string());
    return out;
  }

  fs::path dir_;
};

TEST_F(Files, TemporariesAreUniqueNewAndRemovedUnlessCommitted) {
  const std::string target = (dir_ / "run.h5").string();
  std::set<std::string> seen;
  {
    const Temporary a(target), b(target);
    EXPECT_NE(a.path(), b.path());
    for (const auto* t : {&a, &b}) {
      EXPECT_TRUE(fs::is_regular_file(t->path()));
      EXPECT_TRUE(is_moesim_temporary(fs::path(t->path()).filename().string())) << t->path();
      seen.insert(t->path());
    }
  }
  for (const auto& p : seen) EXPECT_FALSE(fs::exists(p)) << p;
  // A user's file named like the old fixed temporary is never touched.
  write("run.h5.tmp", "user data");
  Temporary t(target);
  std::ofstream(t.path()) << "result";
  t.commit();
  EXPECT_EQ(read(dir_ / "run.h5"), "result");
  EXPECT_EQ(read(dir_ / "run.h5.tmp"), "user data");
  EXPECT_EQ(names(), (std::set<std::string>{"run.h5", "run.h5.tmp"}));
}

TEST_F(Files, OnlyExactTemporaryNamesCountAsMoesims) {
  for (const char* name : {"notes.tmp", "data.tmpl", "report.tmp.txt", "run.h5.tmp", "run.h5.tmp.123", ".run.h5.moesim-12-abc.tmp",
                           ".run.h5.moesim-12-0123456789abcdef.tmp.txt", "run.h5.moesim-12-0123456789abcdef.tmp",
                           ".run.h5.moesim-x-0123456789abcdef.tmp", ".run.h5.moesim-12-0123456789ABCDEF.tmp"}) {
    EXPECT_FALSE(is_moesim_temporary(name)) << name;
  }
  EXPECT_TRUE(is_moesim_temporary(".run.h5.moesim-12-0123456789abcdef.tmp"));
}

TEST_F(Files, CleanUpRemovesOnlyMoesimTemporariesAndNeverFollowsLinks) {
  for (const char* name : {"notes.tmp", "data.tmpl", "report.tmp.txt", "summary.csv.tmp"}) write(name, "keep");
  write(".summary.csv.moesim-1-0123456789abcdef.tmp", "left by a killed run");
  // A link named like a temporary, to a user's file outside: the link may go, never the file.
  const fs::path outside = dir_ / "outside";
  fs::create_directories(outside);
  std::ofstream(outside / "precious") << "user";
  fs::create_symlink(outside / "precious", dir_ / ".x.moesim-2-0123456789abcdef.tmp");
  fs::create_directories(dir_ / ".d.moesim-3-0123456789abcdef.tmp");  // a directory: not ours to remove
  EXPECT_EQ(remove_moesim_temporaries(dir_.string()), 1);
  EXPECT_EQ(read(outside / "precious"), "user");
  EXPECT_EQ(names(), (std::set<std::string>{"notes.tmp", "data.tmpl", "report.tmp.txt", "summary.csv.tmp", "outside",
                                            ".x.moesim-2-0123456789abcdef.tmp", ".d.moesim-3-0123456789abcdef.tmp"}));
  // Through a linked directory, nothing at all.
  std::ofstream(outside / ".y.moesim-4-0123456789abcdef.tmp") << "in the user's tree";
  fs::create_directory_symlink(outside, dir_ / "linked");
  EXPECT_EQ(remove_moesim_temporaries((dir_ / "linked").string()), 0);
  EXPECT_TRUE(fs::exists(outside / ".y.moesim-4-0123456789abcdef.tmp"));
}

TEST_F(Files, RegularTargetsAreReplacedWhole) {
  write("out.csv", "old");
  write_file_atomically((dir_ / "out.csv").string(), "new");
  EXPECT_EQ(read(dir_ / "out.csv"), "new");
  write_file_atomically((dir_ / "fresh.csv").string(), "made");
  EXPECT_EQ(read(dir_ / "fresh.csv"), "made");
  EXPECT_EQ(names(), (std::set<std::string>{"out.csv", "fresh.csv"}));
}

TEST_F(Files, LinksDirectoriesAndSpecialFilesAreNeverReplaced) {
  write("real.csv", "user");
  fs::create_symlink(dir_ / "real.csv", dir_ / "link.csv");
  fs::create_symlink(dir_ / "nowhere", dir_ / "dangling.csv");
  fs::create_directories(dir_ / "dir.csv");
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  for (const char* name : {"link.csv", "dangling.csv", "dir.csv", "fifo"}) {
    const std::string p = (dir_ / name).string();
    EXPECT_THROW(write_file_atomically(p, "x"), FileError) << name;
    EXPECT_THROW(check_target(p, Target::kFile), FileError) << name;
  }
  EXPECT_THROW(write_file_atomically("/dev/null", "x"), FileError);  // a result file: regular only
  EXPECT_TRUE(fs::is_symlink(dir_ / "link.csv"));
  EXPECT_TRUE(fs::is_symlink(dir_ / "dangling.csv"));
  EXPECT_TRUE(fs::is_fifo(dir_ / "fifo"));
  EXPECT_EQ(read(dir_ / "real.csv"), "user");
  try {
    check_target((dir_ / "link.csv").string(), Target::kStream);
    ADD_FAILURE() << "a link to a regular file was accepted";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("symbolic link to '" + (dir_ / "real.csv").string() + "'"), std::string::npos) << e.what();
  }
}

TEST_F(Files, StreamsAreWrittenThroughNotReplaced) {
  EXPECT_EQ(check_target("/dev/null", Target::kStream), TargetKind::kWriteThrough);
  write_file_atomically("/dev/null", "discarded", Target::kStream);
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  // A FIFO with a reader receives the bytes; the FIFO stays a FIFO.
  const fs::path fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  write_file_atomically(fifo.string(), "through", Target::kStream);
  char buf[16] = {};
  EXPECT_EQ(::read(reader, buf, sizeof buf), 7);
  EXPECT_STREQ(buf, "through");
  ::close(reader);
  EXPECT_TRUE(fs::is_fifo(fifo));
  // Without a reader: an error at once, not a hang.
  try {
    write_file_atomically(fifo.string(), "x", Target::kStream);
    ADD_FAILURE() << "wrote to a FIFO nobody reads";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("no reader"), std::string::npos) << e.what();
  }
  // This process's own descriptors are written as descriptors.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const std::string own = "/dev/fd/" + std::to_string(pipe_fds[1]);
  write_file_atomically(own, "fd", Target::kStream);
  char two[3] = {};
  EXPECT_EQ(::read(pipe_fds[0], two, 2), 2);
  EXPECT_STREQ(two, "fd");
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST_F(Files, AnOutputThatIsAnInputIsRefused) {
  const fs::path in = write("t.csv", "step,layer,expert,tokens\n");
  EXPECT_THROW(require_not_input(in.string(), {in.string()}), FileError);
  fs::create_hard_link(in, dir_ / "hard.csv");
  fs::create_symlink(in, dir_ / "soft.csv");
  EXPECT_THROW(require_not_input((dir_ / "hard.csv").string(), {in.string()}), FileError);
  EXPECT_THROW(require_not_input(in.string(), {(dir_ / "soft.csv").string()}), FileError);
  EXPECT_THROW(require_not_input((dir_ / "." / "t.csv").string(), {in.string()}), FileError);
  EXPECT_NO_THROW(require_not_input((dir_ / "other.csv").string(), {in.string()}));
  write("other.csv", "x");
  EXPECT_NO_THROW(require_not_input((dir_ / "other.csv").string(), {in.string()}));
}

TEST_F(Files, ASecondLockOnADirectorySaysItIsInUse) {
  const DirectoryLock held(dir_.string(), DirectoryLock::Wait::kNo);
  try {
    const DirectoryLock second(dir_.string(), DirectoryLock::Wait::kNo);
    ADD_FAILURE() << "two locks on one directory";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another moesim process (pid " + std::to_string(::getpid()) + ")"), std::string::npos)
        << e.what();
  }
}

TEST_F(Files, ALockIsFreeAgainOnceReleasedAndNeverOpensALink) {
  { const DirectoryLock first(dir_.string(), DirectoryLock::Wait::kNo); }
  EXPECT_NO_THROW(DirectoryLock(dir_.string(), DirectoryLock::Wait::kNo));
  const fs::path other = dir_ / "other";
  fs::create_directories(other);
  write("victim", "user");
  fs::create_symlink(dir_ / "victim", other / ".moesim.lock");
  EXPECT_THROW(DirectoryLock(other.string(), DirectoryLock::Wait::kNo), FileError);
  EXPECT_EQ(read(dir_ / "victim"), "user");
}

}  // namespace
}  // namespace moesim::files
