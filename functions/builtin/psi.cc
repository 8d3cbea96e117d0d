// The `psi` built-in: input parsing, argument handling and per-party output.
// The intersection itself is psi_engine.cc.
//
// Error messages name the party and line but never quote an identifier:
// errors can reach parties other than the one whose input was bad.
#include "functions/builtin/psi.h"

#include <algorithm>
#include <cstring>

#include "functions/builtin/csv.h"
#include "functions/builtin/psi_engine.h"
#include "functions/builtin/spec_util.h"

namespace cloister::functions::builtin {
namespace {

constexpr std::string_view kSetSlot = "set";

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

struct PsiArgs {
  std::string column;
  bool flags = false;
  bool trim = true;
  size_t max_id_bytes = 0;
  char delimiter = ',';
  uint64_t max_memory_bytes = 0;
};

// One party's identifiers. Views point into the input or into `arena`,
// which is reserved to the input size up front and so never reallocates.
struct PartySet {
  std::string name;  // the <party> of set.<party>
  std::string arena;
  std::vector<std::string_view> ids;
};

Error TooLong(const std::string& input, size_t line, size_t size, size_t cap) {
  return InvalidArgument(input + " line " + std::to_string(line) + ": identifier is " +
                             std::to_string(size) + " bytes, longer than max_id_bytes=" +
                             std::to_string(cap),
                         "PSI_ID_TOO_LONG");
}

Status ReadLines(const std::string& input, std::string_view data, const PsiArgs& a,
                 PartySet& out) {
  // Counting first sizes the vector exactly; memchr-speed on big inputs.
  const size_t lines = static_cast<size_t>(std::count(data.begin(), data.end(), '\n')) +
                       (!data.empty() && data.back() != '\n' ? 1 : 0);
  out.ids.reserve(lines);
  size_t pos = 0, line = 1;
  while (pos < data.size()) {
    const void* nl = std::memchr(data.data() + pos, '\n', data.size() - pos);
    const size_t end =
        nl ? static_cast<size_t>(static_cast<const char*>(nl) - data.data()) : data.size();
    std::string_view id = data.substr(pos, end - pos);
    if (a.trim) id = Trim(id);
    if (id.size() > a.max_id_bytes) return TooLong(input, line, id.size(), a.max_id_bytes);
    out.ids.push_back(id);
    pos = end + 1;
    ++line;
  }
  return OkStatus();
}

Status ReadColumn(const std::string& input, std::string_view data, const PsiArgs& a,
                  PartySet& out) {
  CsvOptions o;
  o.delimiter = a.delimiter;
  o.max_field_bytes = std::max<size_t>(a.max_id_bytes, 1u << 20);
  auto reader = CsvReader::Open(data, o);
  if (!reader.ok()) return reader.error().WithContext(input);
  auto col = reader->ColumnIndex(a.column);
  if (!col.ok()) return col.error().WithContext(input);
  out.arena.reserve(data.size());
  std::vector<std::pair<size_t, size_t>> spans;
  while (true) {
    auto more = reader->Next();
    if (!more.ok()) return more.error().WithContext(input);
    if (!*more) break;
    std::string_view id = reader->fields()[*col];
    if (a.trim) id = Trim(id);
    if (id.size() > a.max_id_bytes)
      return TooLong(input, reader->line(), id.size(), a.max_id_bytes);
    spans.emplace_back(out.arena.size(), id.size());
    out.arena.append(id);
  }
  out.ids.reserve(spans.size());
  for (auto [off, len] : spans) out.ids.push_back(std::string_view(out.arena).substr(off, len));
  return OkStatus();
}

Result<PsiArgs> ParseArgs(const Args& args) {
  PsiArgs a;
  CLOISTER_ASSIGN_OR_RETURN(a.column, args.GetString("column"));
  CLOISTER_ASSIGN_OR_RETURN(std::string output, args.GetString("output"));
  if (output == "flags") a.flags = true;
  else if (output != "intersection")
    return InvalidArgument("argument 'output' must be intersection|flags", "BAD_ARGUMENT");
  CLOISTER_ASSIGN_OR_RETURN(a.trim, args.GetBool("trim"));
  CLOISTER_ASSIGN_OR_RETURN(int64_t max_id, args.GetInt("max_id_bytes"));
  a.max_id_bytes = static_cast<size_t>(max_id);
  CLOISTER_ASSIGN_OR_RETURN(std::string delim, args.GetString("delimiter"));
  if (delim.size() != 1 || delim[0] == '"' || delim[0] == '\n' || delim[0] == '\r')
    return InvalidArgument("argument 'delimiter' must be one character (not a quote or newline)",
                           "BAD_ARGUMENT");
  a.delimiter = delim[0];
  CLOISTER_ASSIGN_OR_RETURN(int64_t mem_mb, args.GetInt("max_memory_mb"));
  a.max_memory_bytes = static_cast<uint64_t>(mem_mb) << 20;
  return a;
}

class Psi final : public Function {
 public:
  Psi() {
    spec_.name = "psi";
    spec_.description =
        "Private set intersection of 2..64 parties; each party sees only its own "
        "identifiers that all parties hold.";
    spec_.args = {
        StringArg("output", "intersection",
                  "intersection: own ids held by all parties, own order, deduplicated; "
                  "flags: one 0/1 per own line"),
        StringArg("column", "", "CSV column holding the ids; empty: one id per line"),
        StringArg("delimiter", ",", "CSV delimiter (with 'column')"),
        BoolArg("trim", true, "strip ASCII whitespace (incl. CR) around each id"),
        IntArg("max_id_bytes", 4096, 1, 1 << 20, "longest accepted identifier"),
        IntArg("max_memory_mb", 4096, 1, 1 << 20,
               "working-memory cap; larger inputs fail with RESOURCE_EXHAUSTED"),
    };
    spec_.inputs = {VariadicSlot("set", 2, 64, "set.<party>: one party's identifiers")};
    spec_.outputs = {VariadicSlot("result", 2, 64, "result.<party>: that party's view")};
  }

  const FunctionSpec& spec() const override { return spec_; }

  Status Run(Runtime& rt) const override {
    CLOISTER_ASSIGN_OR_RETURN(PsiArgs a, ParseArgs(rt.args()));
    const std::vector<std::string> names = rt.InputsOf(kSetSlot);
    if (names.size() < 2 || names.size() > 64)
      return InvalidArgument("psi needs 2..64 inputs 'set.<party>', got " +
                                 std::to_string(names.size()),
                             "BAD_INPUT");
    // Reject oversized calls before allocating anything per identifier:
    // newline counts bound the identifier counts from above.
    std::vector<size_t> upper;
    uint64_t input_bytes = 0;
    for (const auto& n : names) {
      CLOISTER_ASSIGN_OR_RETURN(std::string_view data, rt.Input(n));
      upper.push_back(static_cast<size_t>(std::count(data.begin(), data.end(), '\n')) + 1);
      input_bytes += data.size();
    }
    uint64_t ids_total = 0;
    for (size_t u : upper) ids_total += u;
    // + CSV arenas (≤ inputs) + outputs (≤ inputs + a flag line per id).
    const uint64_t need = PsiWorkingMemory(upper) +
                          (a.column.empty() ? 0 : input_bytes) + input_bytes + 2 * ids_total;
    if (need > a.max_memory_bytes)
      return ResourceExhausted("psi needs about " + std::to_string(need >> 20) +
                                   " MiB of working memory, max_memory_mb is " +
                                   std::to_string(a.max_memory_bytes >> 20),
                               "PSI_MEMORY_LIMIT");

    std::vector<PartySet> parties(names.size());
    for (size_t p = 0; p < names.size(); ++p) {
      if (names[p].size() <= kSetSlot.size() + 1)
        return InvalidArgument("psi inputs must be named 'set.<party>'", "BAD_INPUT");
      parties[p].name = names[p].substr(kSetSlot.size() + 1);
      CLOISTER_ASSIGN_OR_RETURN(std::string_view data, rt.Input(names[p]));
      if (a.column.empty()) CLOISTER_RETURN_IF_ERROR(ReadLines(names[p], data, a, parties[p]));
      else CLOISTER_RETURN_IF_ERROR(ReadColumn(names[p], data, a, parties[p]));
    }

    std::vector<std::vector<std::string_view>> sets;
    sets.reserve(parties.size());
    for (auto& p : parties) sets.push_back(std::move(p.ids));
    PsiLimits limits;  // the full estimate above already covers the engine
    limits.max_memory_bytes = a.max_memory_bytes;
    CLOISTER_ASSIGN_OR_RETURN(PsiMembership m, Intersect(sets, limits));

    // Build every output before writing any, so an output-limit failure
    // leaves no party with a result the others lack.
    std::vector<std::string> results(parties.size());
    std::vector<uint8_t> emitted;
    for (size_t p = 0; p < parties.size(); ++p) {
      std::string& out = results[p];
      const auto& ids = sets[p];
      if (a.flags) {
        out.reserve(ids.size() * 2);
        for (size_t i = 0; i < ids.size(); ++i) out.append(m.InIntersection(p, i) ? "1\n" : "0\n");
        continue;
      }
      emitted.assign(m.entries(), 0);
      CsvWriter csv(a.delimiter);
      const bool as_csv = !a.column.empty();
      if (as_csv) {
        csv.Field(a.column);
        csv.EndRow();
      }
      for (size_t i = 0; i < ids.size(); ++i) {
        const uint32_t e = m.EntryOf(p, i);
        if (e == PsiMembership::kNone || emitted[e]) continue;
        emitted[e] = 1;
        if (as_csv) {
          csv.Field(ids[i]);
          csv.EndRow();
        } else {
          out.append(ids[i]);
          out.push_back('\n');
        }
      }
      if (as_csv) out = std::move(csv).Take();
    }
    uint64_t total = 0;
    for (const auto& r : results) total += r.size();
    if (total > rt.limits().max_output_bytes)
      return ResourceExhausted("psi results exceed the output size limit",
                               "OUTPUT_LIMIT_EXCEEDED");
    for (size_t p = 0; p < parties.size(); ++p)
      CLOISTER_RETURN_IF_ERROR(rt.Write("result." + parties[p].name, results[p]));
    return OkStatus();
  }

 private:
  FunctionSpec spec_;
};

}  // namespace

std::unique_ptr<Function> MakePsi() { return std::make_unique<Psi>(); }

}  // namespace cloister::functions::builtin
