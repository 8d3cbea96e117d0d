// Model validation, serialisation and bounds-checked parsing; the format is
// documented in model.h.
#include "functions/gbdt/model.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <set>

namespace cloister::functions::gbdt {

static_assert(std::endian::native == std::endian::little,
              "model_format.cc copies little-endian fields directly");

namespace internal {
uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}
}  // namespace internal

namespace {

Error BadModel(std::string msg) {
  return InvalidArgument("model: " + std::move(msg), "GBDT_BAD_MODEL");
}

std::string Where(size_t t, size_t i) {
  return "tree " + std::to_string(t) + " node " + std::to_string(i);
}

template <typename T>
void Put(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

// Sequential bounds-checked reader over the untrusted bytes.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  size_t remaining() const { return b_.size() - pos_; }
  template <typename T>
  bool Get(T& v) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetBytes(size_t n, std::string_view& v) {
    if (remaining() < n) return false;
    v = b_.substr(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

Status ValidateTree(std::span<const Node> tree, size_t t, size_t num_features) {
  if (tree.empty()) return BadModel("tree " + std::to_string(t) + " has no nodes");
  std::vector<uint8_t> parents(tree.size(), 0);
  std::vector<uint8_t> depth(tree.size(), 0);
  for (size_t i = 0; i < tree.size(); ++i) {
    const Node& n = tree[i];
    if (i > 0 && parents[i] != 1)
      return BadModel(Where(t, i) + " is not the child of exactly one node");
    if (n.is_leaf()) {
      if (n.feature != 0 || std::bit_cast<uint32_t>(n.threshold) != 0)
        return BadModel(Where(t, i) + ": leaf has a feature or threshold");
      if (!std::isfinite(n.value)) return BadModel(Where(t, i) + ": leaf value is not finite");
      continue;
    }
    // left > i makes every path strictly increasing: no cycles.
    if (n.left <= i || n.left >= tree.size() - 1)
      return BadModel(Where(t, i) + ": child index out of range");
    if (n.feature_id() >= num_features)
      return BadModel(Where(t, i) + ": feature id out of range");
    if (!std::isfinite(n.threshold)) return BadModel(Where(t, i) + ": threshold is not finite");
    if (std::bit_cast<uint32_t>(n.value) != 0)
      return BadModel(Where(t, i) + ": internal node has a value");
    if (depth[i] + 1u > kMaxModelDepth)
      return BadModel(Where(t, i) + ": tree deeper than " + std::to_string(kMaxModelDepth));
    for (uint32_t c : {n.left, n.left + 1}) {
      // Saturate: a second parent is an error anyway.
      parents[c] = static_cast<uint8_t>(std::min(parents[c] + 1, 2));
      depth[c] = static_cast<uint8_t>(depth[i] + 1);
    }
  }
  return OkStatus();
}

}  // namespace

Status ValidateModel(const Model& m) {
  if (m.objective != Objective::kRegression && m.objective != Objective::kBinary)
    return BadModel("unknown objective");
  if (!std::isfinite(m.base_score)) return BadModel("base score is not finite");
  if (m.feature_names.empty() || m.feature_names.size() > kMaxModelFeatures)
    return BadModel("feature count out of range");
  std::set<std::string_view> names;
  for (const auto& name : m.feature_names) {
    if (name.empty() || name.size() > kMaxFeatureName)
      return BadModel("feature name length out of range");
    if (!names.insert(name).second) return BadModel("duplicate feature name");
  }
  if (m.tree_offsets.size() < 2 || m.num_trees() > kMaxModelTrees)
    return BadModel("tree count out of range");
  if (m.tree_offsets.front() != 0 || m.tree_offsets.back() != m.nodes.size() ||
      m.nodes.size() > kMaxModelNodes)
    return BadModel("tree offsets do not cover the nodes");
  for (size_t t = 0; t < m.num_trees(); ++t) {
    if (m.tree_offsets[t + 1] <= m.tree_offsets[t])
      return BadModel("tree " + std::to_string(t) + " has no nodes");
    CLOISTER_RETURN_IF_ERROR(ValidateTree(m.tree(t), t, m.num_features()));
  }
  return OkStatus();
}

std::string SerializeModel(const Model& m) {
  std::string out;
  out.reserve(48 + m.nodes.size() * sizeof(Node) + m.num_trees() * 4);
  out.append(kModelMagic, 4);
  Put<uint16_t>(out, kModelVersion);
  Put<uint16_t>(out, 0);
  Put<uint32_t>(out, static_cast<uint32_t>(m.objective));
  Put<uint32_t>(out, static_cast<uint32_t>(m.num_features()));
  Put<uint32_t>(out, static_cast<uint32_t>(m.num_trees()));
  Put<uint32_t>(out, static_cast<uint32_t>(m.nodes.size()));
  Put<double>(out, m.base_score);
  for (const auto& name : m.feature_names) {
    Put<uint16_t>(out, static_cast<uint16_t>(name.size()));
    out.append(name);
  }
  for (size_t t = 0; t < m.num_trees(); ++t)
    Put<uint32_t>(out, m.tree_offsets[t + 1] - m.tree_offsets[t]);
  for (const Node& n : m.nodes) {
    Put(out, n.left);
    Put(out, n.feature);
    Put(out, n.threshold);
    Put(out, n.value);
  }
  Put<uint64_t>(out, internal::Fnv1a64(out));
  return out;
}

Result<Model> ParseModel(std::string_view bytes) {
  // Checksum first: corruption is then reported as such, and the structural
  // checks below only ever see bytes the writer produced or a forger chose.
  if (bytes.size() < 40) return BadModel("truncated (" + std::to_string(bytes.size()) + " bytes)");
  if (std::memcmp(bytes.data(), kModelMagic, 4) != 0) return BadModel("bad magic");
  uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  if (internal::Fnv1a64(body) != stored) return BadModel("checksum mismatch (truncated or corrupted)");

  Reader r(body.substr(4));
  uint16_t version = 0, flags = 0;
  uint32_t objective = 0, nf = 0, nt = 0, nn = 0;
  Model m;
  if (!r.Get(version) || !r.Get(flags) || !r.Get(objective) || !r.Get(nf) || !r.Get(nt) ||
      !r.Get(nn) || !r.Get(m.base_score))
    return BadModel("truncated header");
  if (version != kModelVersion)
    return BadModel("unsupported version " + std::to_string(version));
  if (flags != 0) return BadModel("unknown flags");
  if (objective > static_cast<uint32_t>(Objective::kBinary)) return BadModel("unknown objective");
  m.objective = static_cast<Objective>(objective);
  // Each count is checked against the bytes left before anything is sized by
  // it, so a forged count cannot trigger a huge allocation.
  if (nf == 0 || nf > kMaxModelFeatures || nf > r.remaining() / 3)
    return BadModel("feature count out of range");
  m.feature_names.reserve(nf);
  for (uint32_t f = 0; f < nf; ++f) {
    uint16_t len = 0;
    std::string_view name;
    if (!r.Get(len) || !r.GetBytes(len, name)) return BadModel("truncated feature names");
    m.feature_names.emplace_back(name);
  }
  if (nt == 0 || nt > kMaxModelTrees || nn < nt || nn > kMaxModelNodes ||
      r.remaining() != size_t{nt} * 4 + size_t{nn} * sizeof(Node))
    return BadModel("tree or node count does not match the model size");
  m.tree_offsets.assign(1, 0);
  m.tree_offsets.reserve(size_t{nt} + 1);
  uint64_t total = 0;
  for (uint32_t t = 0; t < nt; ++t) {
    uint32_t count = 0;
    if (!r.Get(count)) return BadModel("truncated tree table");
    total += count;
    if (count == 0 || total > nn) return BadModel("tree sizes do not sum to the node count");
    m.tree_offsets.push_back(static_cast<uint32_t>(total));
  }
  if (total != nn) return BadModel("tree sizes do not sum to the node count");
  m.nodes.resize(nn);
  for (Node& n : m.nodes)
    if (!r.Get(n.left) || !r.Get(n.feature) || !r.Get(n.threshold) || !r.Get(n.value))
      return BadModel("truncated nodes");
  CLOISTER_RETURN_IF_ERROR(ValidateModel(m));
  return m;
}

}  // namespace cloister::functions::gbdt
