// Row MACs, the sealed state record and rollback detection; see
// row_integrity.h. The SQL here is generated from code constants only
// (table and column names checked by CheckIdentifier), never from input.
#include "services/common/row_integrity.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

#include <unistd.h>

#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "common/logging.h"
#include "common/thread_annotations.h"

namespace cloister::services {
namespace {

namespace ir = integrity_reason;

constexpr size_t kMacSize = crypto::kSha256Size;
constexpr const char* kStateTable = "cloister_integrity";

// What the SQL functions need: the unsealed key and the layout digest.
struct MacKey {
  SecretBytes key;
  crypto::Digest layout{};
  std::string counter_name;
};

void PutU64(Bytes& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A self-delimiting encoding of one value: tag, length, bytes.
void PutValue(Bytes& out, const storage::Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) {
    out.push_back(1);
    PutU64(out, static_cast<uint64_t>(*i));
  } else if (const auto* d = std::get_if<double>(&v)) {
    out.push_back(2);
    uint64_t bits = 0;
    static_assert(sizeof(bits) == sizeof(*d));
    std::memcpy(&bits, d, sizeof(bits));
    PutU64(out, bits);
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    out.push_back(3);
    PutU64(out, s->size());
    out.insert(out.end(), s->begin(), s->end());
  } else if (const auto* b = std::get_if<Bytes>(&v)) {
    out.push_back(4);
    PutU64(out, b->size());
    out.insert(out.end(), b->begin(), b->end());
  } else {
    out.push_back(0);
  }
}

Result<std::string> TextArg(std::span<const storage::Value> args, size_t i) {
  if (i >= args.size()) return Internal("row integrity: missing argument", ir::kRowIntegrityFailed);
  if (const auto* s = std::get_if<std::string>(&args[i])) return *s;
  return Internal("row integrity: argument is not text", ir::kRowIntegrityFailed);
}

// MAC of (table, values): the row MAC.
Result<crypto::Digest> RowMac(const MacKey& k, std::string_view table,
                              std::span<const storage::Value> values) {
  if (k.key.empty()) return Internal("row integrity key not loaded", ir::kRowIntegrityFailed);
  Bytes msg = ToBytes("cloister row mac v1");
  msg.push_back(0);
  PutValue(msg, std::string(table));
  PutU64(msg, values.size());
  for (const storage::Value& v : values) PutValue(msg, v);
  return crypto::HmacSha256(k.key.view(), msg);
}

crypto::Digest StateMac(const MacKey& k, int64_t version, ByteView digest,
                        const crypto::Digest& layout) {
  Bytes msg = ToBytes("cloister integrity state v1");
  msg.push_back(0);
  PutValue(msg, k.counter_name);
  PutU64(msg, static_cast<uint64_t>(version));
  PutValue(msg, Bytes(digest.begin(), digest.end()));
  PutValue(msg, Bytes(layout.begin(), layout.end()));
  return crypto::HmacSha256(k.key.view(), msg);
}

// a ^= b, where NULL / empty is zero; another size is a damaged state.
Status XorInto(crypto::Digest& acc, const storage::Value& v) {
  if (std::holds_alternative<std::monostate>(v)) return OkStatus();
  const auto* b = std::get_if<Bytes>(&v);
  if (b == nullptr || (b->size() != kMacSize && !b->empty()))
    return DataLoss("a row MAC or the state digest has the wrong size",
                    ir::kStateIntegrityFailed);
  for (size_t i = 0; i < b->size(); ++i) acc[i] ^= (*b)[i];
  return OkStatus();
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char ch : s)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  return true;
}

Status CheckTables(const std::vector<ProtectedTable>& tables) {
  for (const ProtectedTable& t : tables) {
    bool ok = IsIdentifier(t.table) && !t.columns.empty() && !t.key_columns.empty();
    for (const std::string& c : t.columns) ok = ok && IsIdentifier(c) && c != "row_mac";
    for (const std::string& k : t.key_columns)
      ok = ok && std::find(t.columns.begin(), t.columns.end(), k) != t.columns.end();
    if (!ok) return Internal("row integrity: bad table spec '" + t.table + "'");
  }
  return OkStatus();
}

crypto::Digest LayoutDigest(const std::vector<ProtectedTable>& tables) {
  std::string text = "cloister row layout v1";
  for (const ProtectedTable& t : tables) {
    text += "\n" + t.table + ":";
    for (const std::string& c : t.columns) text += c + ",";
  }
  return crypto::Sha256(text);
}

// "p.a, p.b" (p = "NEW." / "OLD." / "").
std::string Cols(const ProtectedTable& t, std::string_view p) {
  std::string out;
  for (const std::string& c : t.columns) out += (out.empty() ? "" : ", ") + std::string(p) + c;
  return out;
}
// "'k=' || quote(p.k) || ', ' || ..." : the row's name in an error.
std::string KeyText(const ProtectedTable& t, std::string_view p) {
  std::string out;
  for (const std::string& k : t.key_columns)
    out += (out.empty() ? "" : " || ', ' || ") + ("'" + k + "=' || quote(") + std::string(p) + k +
           ")";
  return out;
}
// "k1 IS p.k1 AND ..." : locates the row in a trigger.
std::string KeyMatch(const ProtectedTable& t, std::string_view p) {
  std::string out;
  for (const std::string& k : t.key_columns)
    out += (out.empty() ? "" : " AND ") + k + " IS " + std::string(p) + k;
  return out;
}

std::string MacExpr(const ProtectedTable& t, std::string_view p) {
  return "cloister_row_mac('" + t.table + "', " + Cols(t, p) + ")";
}
std::string CheckExpr(const ProtectedTable& t, std::string_view p) {
  return "cloister_row_check('" + t.table + "', " + KeyText(t, p) + ", " + std::string(p) +
         "row_mac, " + Cols(t, p) + ")";
}
std::string StateUpdate(std::string_view xor_args) {
  const std::string digest = "cloister_xor(digest, " + std::string(xor_args) + ")";
  return "UPDATE " + std::string(kStateTable) + " SET version = version + 1, digest = " +
         digest + ", mac = cloister_state_mac(version + 1, " + digest + ") WHERE id = 1;";
}

// The connection-local view and triggers of one table (see the header).
std::vector<std::string> TempObjects(const ProtectedTable& t) {
  const std::string& n = t.table;
  const std::string cols = Cols(t, "");
  return {
      // rowid too: stores order by insertion with it.
      "CREATE TEMP VIEW " + n + "_checked AS SELECT *, rowid AS rowid FROM main." + n +
          " WHERE " + CheckExpr(t, ""),
      "CREATE TEMP TRIGGER cloister_" + n + "_ins AFTER INSERT ON main." + n +
          " BEGIN UPDATE " + n + " SET row_mac = " + MacExpr(t, "NEW.") + " WHERE " +
          KeyMatch(t, "NEW.") + "; END",
      "CREATE TEMP TRIGGER cloister_" + n + "_chk BEFORE UPDATE OF " + cols + " ON main." + n +
          " BEGIN SELECT " + CheckExpr(t, "OLD.") + "; END",
      "CREATE TEMP TRIGGER cloister_" + n + "_upd AFTER UPDATE OF " + cols + " ON main." + n +
          " BEGIN UPDATE " + n + " SET row_mac = " + MacExpr(t, "NEW.") + " WHERE " +
          KeyMatch(t, "NEW.") + "; END",
      "CREATE TEMP TRIGGER cloister_" + n + "_del BEFORE DELETE ON main." + n + " BEGIN SELECT " +
          CheckExpr(t, "OLD.") + "; END",
      "CREATE TEMP TRIGGER cloister_" + n + "_mac AFTER UPDATE OF row_mac ON main." + n +
          " BEGIN " + StateUpdate("OLD.row_mac, NEW.row_mac") + " END",
      "CREATE TEMP TRIGGER cloister_" + n + "_gone AFTER DELETE ON main." + n + " BEGIN " +
          StateUpdate("OLD.row_mac") + " END",
  };
}

Status RegisterFunctions(storage::Engine& db, std::shared_ptr<const MacKey> k) {
  using storage::Value;
  // (Each registration is a named Status: the lambdas use the macros too.)
  Status st = db.RegisterFunction(
      "cloister_row_mac", -1, [k](std::span<const Value> a) -> Result<Value> {
        CLOISTER_ASSIGN_OR_RETURN(std::string table, TextArg(a, 0));
        CLOISTER_ASSIGN_OR_RETURN(crypto::Digest mac, RowMac(*k, table, a.subspan(1)));
        return Value(crypto::DigestBytes(mac));
      });
  if (!st.ok()) return st;
  // (table, row name, row_mac, columns...) → 1, or the statement fails.
  st = db.RegisterFunction(
      "cloister_row_check", -1, [k](std::span<const Value> a) -> Result<Value> {
        CLOISTER_ASSIGN_OR_RETURN(std::string table, TextArg(a, 0));
        CLOISTER_ASSIGN_OR_RETURN(std::string row, TextArg(a, 1));
        if (a.size() < 3) return Internal("row integrity: missing argument");
        CLOISTER_ASSIGN_OR_RETURN(crypto::Digest want, RowMac(*k, table, a.subspan(3)));
        const auto* got = std::get_if<Bytes>(&a[2]);
        if (got == nullptr || !ConstantTimeEqual(*got, want))
          return DataLoss("the " + table + " row " + row.substr(0, 200) +
                              " failed its integrity check: it was changed outside the service",
                          ir::kRowIntegrityFailed);
        return Value(int64_t{1});
      });
  if (!st.ok()) return st;
  st = db.RegisterFunction(
      "cloister_xor", -1, [](std::span<const Value> a) -> Result<Value> {
        crypto::Digest acc{};
        for (const Value& v : a) CLOISTER_RETURN_IF_ERROR(XorInto(acc, v));
        return Value(crypto::DigestBytes(acc));
      });
  if (!st.ok()) return st;
  st = db.RegisterFunction(
      "cloister_state_mac", 2, [k](std::span<const Value> a) -> Result<Value> {
        const auto* version = std::get_if<int64_t>(&a[0]);
        const auto* digest = std::get_if<Bytes>(&a[1]);
        if (version == nullptr || digest == nullptr || k->key.empty())
          return DataLoss("the integrity state record is damaged", ir::kStateIntegrityFailed);
        return Value(crypto::DigestBytes(StateMac(*k, *version, *digest, k->layout)));
      });
  return st;
}

// Whether `sql` reads protected table `t` directly ("FROM t", "JOIN t",
// "FROM main.t") instead of through t_checked. DELETE FROM is a write.
bool ReadsDirectly(std::string_view sql, std::string_view t) {
  auto is_ident = [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
  };
  auto upper_word_before = [&](size_t end) {  // the word ending before `end`
    while (end > 0 && std::isspace(static_cast<unsigned char>(sql[end - 1]))) --end;
    size_t begin = end;
    while (begin > 0 && is_ident(sql[begin - 1])) --begin;
    std::string w(sql.substr(begin, end - begin));
    for (char& ch : w) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return std::pair<std::string, size_t>(w, begin);
  };
  for (size_t at = sql.find(t); at != std::string_view::npos; at = sql.find(t, at + 1)) {
    const size_t end = at + t.size();
    if ((at > 0 && is_ident(sql[at - 1])) || (end < sql.size() && is_ident(sql[end]))) continue;
    size_t before = at;
    if (before >= 5 && sql.substr(before - 5, 5) == "main.") before -= 5;
    auto [word, begin] = upper_word_before(before);
    if (word != "FROM" && word != "JOIN") continue;
    if (word == "FROM" && upper_word_before(begin).first == "DELETE") continue;
    return true;
  }
  return false;
}

// The engine a store uses once its rows are verified: the inner engine,
// plus (protected mode) the counter advance after each committed write,
// before the caller replies, so a reply never precedes the counter that
// makes it fresh; and (both modes) a refusal of any statement that reads a
// protected table without its checking view, so a forgotten `_checked`
// fails in every test instead of silently skipping the check.
class ProtectedEngine final : public storage::Engine {
 public:
  ProtectedEngine(std::unique_ptr<storage::Engine> inner, std::vector<ProtectedTable> tables,
                  std::shared_ptr<const MacKey> key, attestation::MonotonicCounters* counters,
                  int64_t version)
      : inner_(std::move(inner)),
        tables_(std::move(tables)),
        key_(std::move(key)),
        counters_(counters),
        advanced_(version) {}

  Status Transaction(const std::function<Status(storage::Tx&)>& fn) override {
    Status st = inner_->Transaction([&](storage::Tx& tx) -> Status {
      GuardedTx guarded(tx, *this);
      return fn(guarded);
    });
    if (!st.ok()) return st;
    return AdvanceCounter();
  }
  std::string_view kind() const override { return inner_->kind(); }
  Status RegisterFunction(const std::string& name, int arity, Function fn) override {
    return inner_->RegisterFunction(name, arity, std::move(fn));
  }

 protected:
  Status DoExecute(std::string_view sql, storage::Params params) override {
    CLOISTER_RETURN_IF_ERROR(Guard(sql));
    CLOISTER_RETURN_IF_ERROR(inner_->Execute(sql, params));
    return AdvanceCounter();
  }
  Result<int64_t> DoExecuteChanges(std::string_view sql, storage::Params params) override {
    CLOISTER_RETURN_IF_ERROR(Guard(sql));
    CLOISTER_ASSIGN_OR_RETURN(int64_t n, inner_->ExecuteChanges(sql, params));
    CLOISTER_RETURN_IF_ERROR(AdvanceCounter());
    return n;
  }
  Result<std::vector<storage::Row>> DoQuery(std::string_view sql, storage::Params params) override {
    CLOISTER_RETURN_IF_ERROR(Guard(sql));
    CLOISTER_ASSIGN_OR_RETURN(auto rows, inner_->Query(sql, params));
    if (!IsSelect(sql)) CLOISTER_RETURN_IF_ERROR(AdvanceCounter());  // INSERT ... RETURNING
    return rows;
  }
  Status ExecScript(storage::Tx&, std::string_view) override {
    return FailedPrecondition("migrations run before row integrity is installed");
  }

 private:
  // The transaction handle the store's callback gets: the same guard.
  class GuardedTx final : public storage::Tx {
   public:
    GuardedTx(storage::Tx& tx, const ProtectedEngine& engine) : tx_(tx), engine_(engine) {}

   protected:
    Status DoExecute(std::string_view sql, storage::Params params) override {
      CLOISTER_RETURN_IF_ERROR(engine_.Guard(sql));
      return tx_.Execute(sql, params);
    }
    Result<int64_t> DoExecuteChanges(std::string_view sql, storage::Params params) override {
      CLOISTER_RETURN_IF_ERROR(engine_.Guard(sql));
      return tx_.ExecuteChanges(sql, params);
    }
    Result<std::vector<storage::Row>> DoQuery(std::string_view sql,
                                              storage::Params params) override {
      CLOISTER_RETURN_IF_ERROR(engine_.Guard(sql));
      return tx_.Query(sql, params);
    }

   private:
    storage::Tx& tx_;
    const ProtectedEngine& engine_;
  };

  Status Guard(std::string_view sql) const {
    for (const ProtectedTable& t : tables_)
      if (ReadsDirectly(sql, t.table))
        return Internal("a statement reads table " + t.table + " without its integrity check (read " +
                            t.table + "_checked)",
                        ir::kRowIntegrityFailed);
    return OkStatus();
  }

  static bool IsSelect(std::string_view sql) {
    size_t i = sql.find_first_not_of(" \t\r\n(");
    if (i == std::string_view::npos || sql.size() - i < 6) return false;
    std::string head(sql.substr(i, 6));
    for (char& ch : head) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return head == "SELECT";
  }

  Status AdvanceCounter() {
    if (counters_ == nullptr) return OkStatus();  // unprotected (unit tests)
    std::lock_guard<std::mutex> lock(mu_);
    CLOISTER_ASSIGN_OR_RETURN(
        auto row, inner_->QueryRow("SELECT version FROM main.cloister_integrity WHERE id = 1"));
    if (!row) return DataLoss("the integrity state record is gone", ir::kStateMissing);
    CLOISTER_ASSIGN_OR_RETURN(int64_t v, row->GetInt(0));
    if (v <= advanced_) return OkStatus();
    CLOISTER_RETURN_IF_ERROR(
        counters_->AdvanceCounter(key_->counter_name, static_cast<uint64_t>(v)).status());
    advanced_ = v;
    return OkStatus();
  }

  std::unique_ptr<storage::Engine> inner_;
  const std::vector<ProtectedTable> tables_;
  std::shared_ptr<const MacKey> key_;
  attestation::MonotonicCounters* counters_;  // not owned; null: unprotected
  std::mutex mu_;
  int64_t advanced_ CLOISTER_GUARDED_BY(mu_);
};

Bytes SealAad(const std::string& counter_name) {
  return ToBytes("cloister row integrity key v1:" + counter_name);
}

// Adds what an older database lacks: the state table and row_mac columns.
Status EnsureSchema(storage::Tx& tx, const std::vector<ProtectedTable>& tables) {
  CLOISTER_RETURN_IF_ERROR(tx.Execute(
      "CREATE TABLE IF NOT EXISTS main.cloister_integrity ("
      " id INTEGER PRIMARY KEY CHECK (id = 1), sealed_key BLOB NOT NULL,"
      " version INTEGER NOT NULL, digest BLOB NOT NULL, layout BLOB NOT NULL, mac BLOB NOT NULL)"));
  for (const ProtectedTable& t : tables) {
    CLOISTER_ASSIGN_OR_RETURN(
        auto cols, tx.Query("SELECT name FROM pragma_table_info(?) WHERE name = 'row_mac'",
                            {std::string(t.table)}));
    if (cols.empty())
      CLOISTER_RETURN_IF_ERROR(tx.Execute("ALTER TABLE main." + t.table + " ADD COLUMN row_mac BLOB"));
  }
  // Objects of the file's own schema run in our connection: a planted
  // trigger could edit rows behind every write. The services define none.
  CLOISTER_ASSIGN_OR_RETURN(
      auto planted,
      tx.Query("SELECT type, name FROM main.sqlite_master WHERE type IN ('trigger', 'view')"));
  if (!planted.empty()) {
    CLOISTER_ASSIGN_OR_RETURN(std::string type, planted[0].GetText(0));
    CLOISTER_ASSIGN_OR_RETURN(std::string name, planted[0].GetText(1));
    return DataLoss("the database holds a " + type + " '" + name.substr(0, 64) +
                        "' the service did not create",
                    ir::kSchemaTampered);
  }
  return OkStatus();
}

Status InstallTempObjects(storage::Tx& tx, const std::vector<ProtectedTable>& tables) {
  for (const ProtectedTable& t : tables)
    for (const std::string& sql : TempObjects(t)) CLOISTER_RETURN_IF_ERROR(tx.Execute(sql));
  return OkStatus();
}

Status SealAllRows(storage::Tx& tx, const std::vector<ProtectedTable>& tables) {
  for (const ProtectedTable& t : tables)
    CLOISTER_RETURN_IF_ERROR(
        tx.Execute("UPDATE main." + t.table + " SET row_mac = " + MacExpr(t, "")));
  return OkStatus();
}

// Every row's MAC (through the checking views), then the XOR of all of them.
Result<crypto::Digest> VerifyRows(storage::Tx& tx, const std::vector<ProtectedTable>& tables) {
  crypto::Digest acc{};
  for (const ProtectedTable& t : tables) {
    CLOISTER_RETURN_IF_ERROR(tx.Query("SELECT count(*) FROM " + t.table + "_checked").status());
    CLOISTER_ASSIGN_OR_RETURN(auto macs, tx.Query("SELECT row_mac FROM main." + t.table));
    for (const storage::Row& r : macs) {
      if (r.IsNull(0))
        return DataLoss("a " + t.table + " row has no integrity MAC: it was added outside the service",
                        ir::kRowIntegrityFailed);
      CLOISTER_RETURN_IF_ERROR(XorInto(acc, r.values()[0]));
    }
  }
  return acc;
}

}  // namespace

Result<std::unique_ptr<storage::Engine>> RowIntegrity::Protect(std::unique_ptr<storage::Engine> db,
                                                               std::vector<ProtectedTable> tables,
                                                               const Config& config) {
  if (config.sealer == nullptr || config.counters == nullptr)
    return Internal("row integrity needs a sealer and the platform counters");
  CLOISTER_RETURN_IF_ERROR(attestation::CheckCounterName(config.counter_name));
  CLOISTER_RETURN_IF_ERROR(CheckTables(tables));

  auto key = std::make_shared<MacKey>();
  key->layout = LayoutDigest(tables);
  key->counter_name = config.counter_name;
  CLOISTER_RETURN_IF_ERROR(RegisterFunctions(*db, key));
  // A REPLACE that deletes a conflicting row fires delete triggers only
  // with recursive triggers on; the state digest must see that delete.
  CLOISTER_RETURN_IF_ERROR(db->Execute("PRAGMA recursive_triggers = ON"));

  CLOISTER_ASSIGN_OR_RETURN(uint64_t counter, config.counters->ReadCounter(config.counter_name));
  int64_t version = 0;
  Status verified = db->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_RETURN_IF_ERROR(EnsureSchema(tx, tables));
    CLOISTER_ASSIGN_OR_RETURN(
        auto state,
        tx.QueryRow("SELECT sealed_key, version, digest, layout, mac FROM main.cloister_integrity "
                    "WHERE id = 1"));
    if (!state) {
      if (counter > 0 && !config.accept_restore)
        return DataLoss("the database has no integrity state but the platform counter '" +
                            config.counter_name + "' is at " + std::to_string(counter) +
                            ": the state was removed or the database replaced",
                        ir::kStateMissing);
      key->key = SecretBytes::Random(32);
      CLOISTER_ASSIGN_OR_RETURN(Bytes sealed,
                                config.sealer->Seal(key->key.view(), SealAad(config.counter_name)));
      const crypto::Digest zero{};
      CLOISTER_RETURN_IF_ERROR(tx.Execute(
          "INSERT INTO main.cloister_integrity (id, sealed_key, version, digest, layout, mac) "
          "VALUES (1, ?, 0, ?, ?, ?)",
          {sealed, crypto::DigestBytes(zero), crypto::DigestBytes(key->layout),
           crypto::DigestBytes(StateMac(*key, 0, zero, key->layout))}));
      CLOISTER_RETURN_IF_ERROR(InstallTempObjects(tx, tables));
      CLOISTER_RETURN_IF_ERROR(SealAllRows(tx, tables));
      LOG_INFO("row integrity: sealed the existing rows", {{"counter", config.counter_name}});
    } else {
      CLOISTER_ASSIGN_OR_RETURN(Bytes sealed, state->GetBlob(0));
      CLOISTER_ASSIGN_OR_RETURN(int64_t v, state->GetInt(1));
      CLOISTER_ASSIGN_OR_RETURN(Bytes digest, state->GetBlob(2));
      CLOISTER_ASSIGN_OR_RETURN(Bytes layout, state->GetBlob(3));
      CLOISTER_ASSIGN_OR_RETURN(Bytes mac, state->GetBlob(4));
      CLOISTER_ASSIGN_OR_RETURN(key->key,
                                config.sealer->Unseal(sealed, SealAad(config.counter_name)));
      crypto::Digest stored_layout{};
      if (layout.size() != stored_layout.size() || digest.size() != kMacSize || v < 0)
        return DataLoss("the integrity state record is damaged", ir::kStateIntegrityFailed);
      std::copy(layout.begin(), layout.end(), stored_layout.begin());
      const crypto::Digest want = StateMac(*key, v, digest, stored_layout);
      if (!ConstantTimeEqual(mac, want))
        return DataLoss("the integrity state record was changed outside the service",
                        ir::kStateIntegrityFailed);
      CLOISTER_RETURN_IF_ERROR(InstallTempObjects(tx, tables));
      if (stored_layout != key->layout) {
        // A new binary protects other columns: its own upgrade, not an
        // attacker's (the state MAC above held). Re-MAC under the new layout.
        CLOISTER_RETURN_IF_ERROR(SealAllRows(tx, tables));
        CLOISTER_RETURN_IF_ERROR(tx.Execute(
            "UPDATE main.cloister_integrity SET layout = ?, mac = cloister_state_mac(version, "
            "digest) WHERE id = 1",
            {crypto::DigestBytes(key->layout)}));
        LOG_WARN("row integrity: protected columns changed; rows re-sealed",
                 {{"counter", config.counter_name}});
      }
      CLOISTER_ASSIGN_OR_RETURN(crypto::Digest sum, VerifyRows(tx, tables));
      CLOISTER_ASSIGN_OR_RETURN(auto now, tx.QueryRow("SELECT digest FROM main.cloister_integrity WHERE id = 1"));
      CLOISTER_ASSIGN_OR_RETURN(Bytes now_digest, now->GetBlob(0));
      if (!std::equal(sum.begin(), sum.end(), now_digest.begin(), now_digest.end()))
        return DataLoss("rows of the database were removed, added or replaced by older copies "
                        "outside the service",
                        ir::kStateIntegrityFailed);
    }
    CLOISTER_ASSIGN_OR_RETURN(auto vrow,
                              tx.QueryRow("SELECT version FROM main.cloister_integrity WHERE id = 1"));
    CLOISTER_ASSIGN_OR_RETURN(version, vrow->GetInt(0));
    if (static_cast<uint64_t>(version) < counter) {
      if (!config.accept_restore)
        return FailedPrecondition(
            "the database is at version " + std::to_string(version) + " but the platform counter '" +
                config.counter_name + "' is at " + std::to_string(counter) +
                ": an older copy was restored. If that was intended, run `cloister cluster "
                "accept-restore`",
            ir::kRollbackDetected);
      version = static_cast<int64_t>(counter);
      CLOISTER_RETURN_IF_ERROR(tx.Execute(
          "UPDATE main.cloister_integrity SET version = ?, mac = cloister_state_mac(?, digest) "
          "WHERE id = 1",
          {version, version}));
      LOG_WARN("row integrity: an older database was accepted by the operator",
               {{"counter", config.counter_name}, {"version", version}});
    }
    return OkStatus();
  });
  CLOISTER_RETURN_IF_ERROR(verified);
  CLOISTER_RETURN_IF_ERROR(
      config.counters->AdvanceCounter(config.counter_name, static_cast<uint64_t>(version)).status());
  return std::unique_ptr<storage::Engine>(std::make_unique<ProtectedEngine>(
      std::move(db), std::move(tables), key, config.counters, version));
}

Result<std::unique_ptr<storage::Engine>> RowIntegrity::Unprotected(
    std::unique_ptr<storage::Engine> db, std::vector<ProtectedTable> tables) {
  CLOISTER_RETURN_IF_ERROR(CheckTables(tables));
  for (const ProtectedTable& t : tables)
    CLOISTER_RETURN_IF_ERROR(db->Execute("CREATE TEMP VIEW " + t.table +
                                         "_checked AS SELECT *, rowid AS rowid FROM main." + t.table));
  return std::unique_ptr<storage::Engine>(std::make_unique<ProtectedEngine>(
      std::move(db), std::move(tables), nullptr, nullptr, 0));
}

std::string IntegrityCounterName(std::string_view service, std::string_view cluster_id) {
  const crypto::Digest d = crypto::Sha256(cluster_id);
  return "rows." + std::string(service) + "." + HexEncode(ByteView(d.data(), 8));
}

bool AcceptRestoreRequested(const std::string& path) {
  return !path.empty() && ::access(path.c_str(), F_OK) == 0;
}

void AcceptRestoreDone(const std::string& path, const RowIntegrity::Config& config) {
  if (!config.accept_restore) return;
  ::unlink(path.c_str());
  LOG_WARN("row integrity: the operator's accept-restore was used and removed",
           {{"counter", config.counter_name}});
}

}  // namespace cloister::services
