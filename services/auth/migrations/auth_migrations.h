// The versioned schema of cloister-auth's database (storage::Migration list).
// Append new migrations; never edit an applied one (the engine refuses).
#pragma once

#include <span>

#include "storage/engine.h"

namespace cloister::auth {

std::span<const storage::Migration> AuthMigrations();

}  // namespace cloister::auth
