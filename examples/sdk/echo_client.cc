// Example: the smallest complete Cloister client. Attests the gateway,
// logs in, runs the built-in `echo` function on one input and prints it.
//
//   CLOISTER_PASSWORD=... cloister_echo_client 127.0.0.1:7443 ~/.cloister/trust.toml alice "hello"
#include <cstdlib>
#include <iostream>
#include <string>

#include "sdk/cloister_client.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: " << argv[0] << " GATEWAY_ADDR TRUST_TOML USER TEXT\n"
              << "       (the password is read from $CLOISTER_PASSWORD)\n";
    return 2;
  }
  const char* password = std::getenv("CLOISTER_PASSWORD");
  if (password == nullptr) {
    std::cerr << "set CLOISTER_PASSWORD\n";
    return 2;
  }

  // 1. Attested connection: nothing is sent before the gateway's quote
  //    has been checked against the cluster's signed manifest.
  auto client = cloister::sdk::Client::Connect({.gateway_address = argv[1], .trust_path = argv[2]});
  if (!client.ok()) {
    std::cerr << "connect: " << client.error().ToString() << "\n";
    return 1;
  }
  std::cout << "gateway attested as role '" << (*client)->gateway().role << "'\n";

  // 2. Log in; the SDK refreshes the token by itself from now on.
  auto user = (*client)->Login(argv[3], password);
  if (!user.ok()) {
    std::cerr << "login: " << user.error().ToString() << "\n";
    return 1;
  }

  // 3. A one-shot call, executed in cloister-exec.
  auto result = (*client)->Call("echo", cloister::sdk::StringArguments{}, {{"data", argv[4]}});
  if (!result.ok()) {
    std::cerr << "call: " << result.error().ToString() << "\n";
    return 1;
  }
  for (const auto& [name, bytes] : result->outputs())
    std::cout << name << ": " << bytes << "\n";
  (void)(*client)->Logout();
  return 0;
}
