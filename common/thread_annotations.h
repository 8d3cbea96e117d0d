// Clang thread-safety analysis annotations (-Wthread-safety), no-ops on
// other compilers. Every member protected by a mutex says which one, so a
// reader (and Clang) can check each access holds it.
//
//   std::mutex mu_;
//   std::map<std::string, int> counts_ CLOISTER_GUARDED_BY(mu_);
//   void BumpLocked() CLOISTER_EXCLUSIVE_LOCKS_REQUIRED(mu_);
//
// Only libc++ built with _LIBCPP_ENABLE_THREAD_SAFETY_ANNOTATIONS marks
// std::mutex as a capability; elsewhere the macros document the invariant
// and Clang checks what it can.
#pragma once

#if defined(__clang__)
#define CLOISTER_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define CLOISTER_THREAD_ANNOTATION(x)
#endif

// The member is read and written only with `mu` held.
#define CLOISTER_GUARDED_BY(mu) CLOISTER_THREAD_ANNOTATION(guarded_by(mu))
// What the pointer points to is accessed only with `mu` held.
#define CLOISTER_PT_GUARDED_BY(mu) CLOISTER_THREAD_ANNOTATION(pt_guarded_by(mu))
// The caller must hold `...` exclusively (the usual `FooLocked()` helper).
#define CLOISTER_EXCLUSIVE_LOCKS_REQUIRED(...) \
  CLOISTER_THREAD_ANNOTATION(exclusive_locks_required(__VA_ARGS__))
// The caller must hold `...` at least shared.
#define CLOISTER_SHARED_LOCKS_REQUIRED(...) \
  CLOISTER_THREAD_ANNOTATION(shared_locks_required(__VA_ARGS__))
// The caller must NOT hold `...` (the function takes it).
#define CLOISTER_LOCKS_EXCLUDED(...) CLOISTER_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// `a` is always acquired before `b`.
#define CLOISTER_ACQUIRED_BEFORE(...) CLOISTER_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
