// The two canonical encodings cloister-tasks hashes (docs/tasks.md,
// "Encodings"): a function version's hash over (kind, source, spec) and a
// task's digest over what every participant approves. Each field is
// length-prefixed or fixed-width and every map is sorted, so one value has
// one encoding and no two values share one.
//
//   std::string h = FunctionHash(tasks::FUNCTION_KIND_LUA, source, spec);   // 64 hex
//   std::string d = TaskDigest(task);                                        // 64 hex
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "functions/runtime.h"
#include "proto/tasks.pb.h"
#include "services/tasks/task_model.h"

namespace cloister::tasks_service {

// Appends big-endian fixed-width integers and u32-length-prefixed strings.
class CanonicalWriter {
 public:
  void U8(uint8_t v);
  void U32(uint32_t v);
  void U64(uint64_t v);
  // u32be(size) ‖ bytes. Callers bound every field far below 4 GiB.
  void Str(std::string_view s);
  // u8 tag (1 string, 2 int, 3 double, 4 bool: the ArgType numbers) ‖
  // Str | i64 as u64be | IEEE-754 bits as u64be (-0 as +0) | u8 0/1.
  void Value(const functions::ArgValue& v);
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

// The tag of a value in Value() and the proto's ArgType number.
uint8_t ValueTag(const functions::ArgValue& v);

// Lowercase hex SHA-256 of the function encoding: Str("cloister.function.v1")
// ‖ U8(kind) ‖ Str(source) ‖ spec (see the .cc and docs/tasks.md). `spec`
// must be normalized (spec_rules.h) so equal specs encode equally.
std::string FunctionHash(FunctionKind kind, std::string_view source,
                         const tasks::FunctionSpec& spec);

// Lowercase hex SHA-256 of the task encoding: Str("cloister.task.v1") ‖
// Str(function_hash) ‖ args ‖ inputs (owner and assigned file) ‖ outputs.
std::string TaskDigest(const TaskRow& t);

}  // namespace cloister::tasks_service
