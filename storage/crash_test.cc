// Crash safety of the SQLite engine: a child process that is SIGKILLed in the
// middle of transactions must leave the database consistent (integrity check
// passes, no partial transaction visible, every committed one present).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "storage/engine.h"

namespace cloister::storage {
namespace {

constexpr Migration kMigrations[] = {
    {1, "ledger", "CREATE TABLE ledger (id INTEGER PRIMARY KEY, txn INTEGER NOT NULL, "
                  "amount INTEGER NOT NULL);"
                  "CREATE TABLE progress (k INTEGER PRIMARY KEY, committed INTEGER NOT NULL);"},
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::filesystem::temp_directory_path() / "cloister-crash-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    url_ = "sqlite://" + dir_ + "/crash.db";
    auto db = Engine::Open(url_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Migrate(kMigrations).ok());
    ASSERT_TRUE((*db)->Execute("INSERT INTO progress VALUES (1, 0)").ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Child: commits transactions of 50 rows whose amounts sum to zero, and
  // bumps progress.committed in the same transaction. With `hold_open` it
  // writes one transaction, tells the parent through `fd`, and waits to be
  // killed with the transaction still open.
  [[noreturn]] void ChildWriter(int fd, bool hold_open) {
    auto db = Engine::Open(url_);
    if (!db.ok()) _exit(2);
    for (int64_t txn = 1;; ++txn) {
      Status st = (*db)->Transaction([&](Tx& tx) -> Status {
        for (int i = 0; i < 50; ++i) {
          int64_t amount = (i % 2 == 0) ? txn : -txn;
          CLOISTER_RETURN_IF_ERROR(
              tx.Execute("INSERT INTO ledger(txn, amount) VALUES (?, ?)", {txn, amount}));
        }
        CLOISTER_RETURN_IF_ERROR(
            tx.Execute("UPDATE progress SET committed = ? WHERE k = 1", {txn}));
        if (hold_open) {
          char c = 'x';
          if (write(fd, &c, 1) != 1) _exit(3);
          for (;;) pause();
        }
        return OkStatus();
      });
      if (!st.ok()) _exit(4);
      if (txn == 20) {  // tell the parent some commits happened
        char c = 'c';
        if (write(fd, &c, 1) != 1) _exit(3);
      }
    }
  }

  pid_t StartChild(bool hold_open, int* read_fd) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      ChildWriter(fds[1], hold_open);
    }
    close(fds[1]);
    *read_fd = fds[0];
    return pid;
  }

  void KillAndReap(pid_t pid) {
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status));
  }

  void CheckConsistent(int64_t* committed_out) {
    auto db = Engine::Open(url_);
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    auto ok = (*db)->QueryRow("PRAGMA integrity_check");
    ASSERT_TRUE(ok.ok() && ok->has_value());
    EXPECT_EQ(*(*ok)->GetText(0), "ok");
    int64_t committed = *(*(*db)->QueryRow("SELECT committed FROM progress"))->GetInt(0);
    auto agg = *(*db)->QueryRow(
        "SELECT count(*), COALESCE(sum(amount), 0), COALESCE(max(txn), 0) FROM ledger");
    // Every committed transaction is complete, none beyond it is visible.
    EXPECT_EQ(*agg->GetInt(0), committed * 50);
    EXPECT_EQ(*agg->GetInt(1), 0);
    EXPECT_EQ(*agg->GetInt(2), committed);
    *committed_out = committed;
  }

  std::string dir_, url_;
};

TEST_F(CrashTest, KilledInsideOpenTransactionLeavesNothing) {
  int fd = -1;
  pid_t pid = StartChild(/*hold_open=*/true, &fd);
  char c = 0;
  ASSERT_EQ(read(fd, &c, 1), 1);  // the child is inside its transaction
  close(fd);
  KillAndReap(pid);
  int64_t committed = -1;
  CheckConsistent(&committed);
  EXPECT_EQ(committed, 0);
}

TEST_F(CrashTest, KilledWhileCommittingInALoopStaysConsistent) {
  for (int round = 0; round < 3; ++round) {
    int fd = -1;
    pid_t pid = StartChild(/*hold_open=*/false, &fd);
    char c = 0;
    ASSERT_EQ(read(fd, &c, 1), 1);
    close(fd);
    // Kill at an arbitrary point in the write loop.
    std::this_thread::sleep_for(std::chrono::milliseconds(7 * (round + 1)));
    KillAndReap(pid);
    int64_t committed = -1;
    CheckConsistent(&committed);
    EXPECT_GE(committed, 20);
    // Start the next round from an empty ledger.
    auto db = *Engine::Open(url_);
    ASSERT_TRUE(db->Transaction([](Tx& tx) -> Status {
                     CLOISTER_RETURN_IF_ERROR(tx.Execute("DELETE FROM ledger"));
                     return tx.Execute("UPDATE progress SET committed = 0");
                   }).ok());
  }
}

}  // namespace
}  // namespace cloister::storage
