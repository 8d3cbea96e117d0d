// The GBDT model: trees of packed 16-byte nodes stored contiguously, plus its
// versioned binary serialisation (layout below; code in model_format.cc).
//
//   std::string bytes = SerializeModel(model);
//   CLOISTER_ASSIGN_OR_RETURN(Model m, ParseModel(bytes));   // untrusted bytes OK
//
// Serialised format, version 1. All integers little-endian, floats IEEE-754
// binary32/binary64 little-endian; offsets in bytes.
//
//   0   4   magic "CGBT"
//   4   2   u16 version = 1
//   6   2   u16 flags, must be 0
//   8   4   u32 objective: 0 = regression (squared loss), 1 = binary (logistic)
//   12  4   u32 F = number of features, 1..kMaxModelFeatures
//   16  4   u32 T = number of trees, 1..kMaxModelTrees
//   20  4   u32 N = total number of nodes, T..kMaxModelNodes
//   24  8   f64 base_score: margin every prediction starts from (finite)
//   32  ..  F feature names, each u16 length (1..kMaxFeatureName) + bytes;
//           names are unique. Prediction finds its columns by these names.
//   ..  4T  u32 node count of each tree (>= 1; they sum to N)
//   ..  16N nodes, tree after tree, each:
//             u32 left    0 = leaf; else index (within the tree) of the left
//                         child, > this node's index; right child = left + 1
//             u32 feature bits 0..30 feature id (< F), bit 31 = missing
//                         values go left; 0 for a leaf
//             f32 threshold  go left iff x < threshold (finite); 0 for a leaf
//             f32 value      leaf output (finite, learning rate applied);
//                            0 for an internal node
//   end-8 8 u64 FNV-1a-64 of every preceding byte
//
// Nothing may follow the checksum. Every node except a tree's root is the
// child of exactly one node and trees are at most kMaxModelDepth deep, so a
// model that parses has no cycles or shared subtrees and prediction cost is
// bounded. Because every field is canonical (unused fields must be 0),
// Serialize(Parse(b)) == b for every accepted b. The checksum catches
// accidental corruption only; integrity against tampering is the job of the
// storage layer's sealing/MAC.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "functions/gbdt/gbdt_params.h"

namespace cloister::functions::gbdt {

inline constexpr char kModelMagic[4] = {'C', 'G', 'B', 'T'};
inline constexpr uint16_t kModelVersion = 1;
inline constexpr uint32_t kMaxModelFeatures = 1u << 20;
inline constexpr uint32_t kMaxModelTrees = 1u << 20;
inline constexpr uint32_t kMaxModelNodes = 1u << 28;
inline constexpr uint32_t kMaxModelDepth = 64;
inline constexpr size_t kMaxFeatureName = 1024;

// One tree node, the same 16 bytes in memory and on disk.
struct Node {
  static constexpr uint32_t kDefaultLeft = 1u << 31;
  static constexpr uint32_t kFeatureMask = kDefaultLeft - 1;

  uint32_t left = 0;
  uint32_t feature = 0;
  float threshold = 0;
  float value = 0;

  bool is_leaf() const { return left == 0; }
  uint32_t feature_id() const { return feature & kFeatureMask; }
  bool default_left() const { return (feature & kDefaultLeft) != 0; }
};
static_assert(sizeof(Node) == 16);

struct Model {
  Objective objective = Objective::kRegression;
  double base_score = 0;
  std::vector<std::string> feature_names;
  // tree t is nodes[tree_offsets[t], tree_offsets[t + 1]); node 0 is the root.
  std::vector<uint32_t> tree_offsets = {0};
  std::vector<Node> nodes;

  size_t num_trees() const { return tree_offsets.size() - 1; }
  size_t num_features() const { return feature_names.size(); }
  std::span<const Node> tree(size_t t) const {
    return std::span<const Node>(nodes).subspan(tree_offsets[t],
                                                tree_offsets[t + 1] - tree_offsets[t]);
  }
};

// Checks every structural rule of the format above on an in-memory model.
// InvalidArgument naming the tree and node that break one.
Status ValidateModel(const Model& m);

// Serialises a model that passes ValidateModel.
std::string SerializeModel(const Model& m);

// Parses untrusted bytes; never reads out of bounds, never allocates more than
// a small multiple of bytes.size(). InvalidArgument ("GBDT_BAD_MODEL") for
// any truncation, corruption or rule violation.
Result<Model> ParseModel(std::string_view bytes);

namespace internal {
uint64_t Fnv1a64(std::string_view bytes);
}  // namespace internal

}  // namespace cloister::functions::gbdt
