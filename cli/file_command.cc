// `cloister file ...`: encrypted files from the command line (docs/api.md,
// "Files"), through the gateway with the saved session. Files are encrypted
// here before upload and decrypted here after download (sdk::FilesClient);
// the storage service never sees a key or plaintext.
//
//   cloister file upload q3.csv --description "Q3 sales" --label team=risk   # → file id
//   cloister file download 3f2a…c9 -o q3.csv
//   cloister file ls --json
#include <filesystem>
#include <iostream>
#include <map>

#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "common/bytes.h"
#include "sdk/files_client.h"

namespace cloister::cli {
namespace {

struct FileFlags {
  std::string path, file_id, out, description;
  std::vector<std::string> labels;  // "k=v"
};

struct Session {
  std::unique_ptr<sdk::Client> client;
  std::unique_ptr<sdk::FilesClient> files;
};

Session Connect(const Globals& g, std::string_view cmd) {
  Session s;
  s.client = ConnectForCommand(g, cmd, true);
  auto saved = LoadSession(ClusterPaths::For(g.home));
  if (!saved.ok()) FailError(cmd, saved.error());
  auto files = sdk::FilesClient::Create(
      s.client.get(), {.gateway_address = saved->gateway, .trust_path = saved->trust_path});
  if (!files.ok()) FailError(cmd, files.error());
  s.files = std::move(*files);
  return s;
}

nlohmann::json FileJson(const filestore::FileInfo& f) {
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [k, v] : f.labels()) labels[k] = v;
  return {{"file_id", f.file_id()},
          {"owner_user_id", f.owner_user_id()},
          {"size", f.size()},
          {"plaintext_size", f.plaintext_size()},
          {"chunk_size", f.chunk_size()},
          {"chunk_count", f.chunk_count()},
          {"sha256", HexEncode(AsBytes(f.sha256()))},
          {"created", f.created_unix()},
          {"description", f.description()},
          {"labels", labels}};
}

void PrintFile(const filestore::FileInfo& f) {
  std::cout << "file id:         " << f.file_id() << "\n"
            << "owner:           " << f.owner_user_id() << "\n"
            << "size:            " << FormatBytes(f.plaintext_size()) << " (" << f.plaintext_size()
            << " bytes; " << f.size() << " encrypted)\n"
            << "chunks:          " << f.chunk_count() << " × " << FormatBytes(f.chunk_size())
            << "\n"
            << "sha256:          " << HexEncode(AsBytes(f.sha256())) << " (ciphertext)\n"
            << "created:         " << FormatUnix(f.created_unix()) << "\n";
  if (!f.description().empty()) std::cout << "description:     " << f.description() << "\n";
  for (const auto& [k, v] : f.labels()) std::cout << "label:           " << k << "=" << v << "\n";
}

// --label k=v, repeatable: a malformed one is a usage error (exit 2).
std::map<std::string, std::string> LabelsArg(const FileFlags& f, std::string_view cmd) {
  std::map<std::string, std::string> out;
  for (const auto& l : f.labels) {
    const size_t eq = l.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "cloister " << cmd << ": --label wants KEY=VALUE, got '" << l << "'\n";
      throw CLI::RuntimeError(kExitUsage);
    }
    out[l.substr(0, eq)] = l.substr(eq + 1);
  }
  return out;
}

void Upload(const FileFlags& f, const Globals& g, sdk::FilesClient& files, std::string_view cmd,
            std::map<std::string, std::string> labels) {
  sdk::UploadOptions opts;
  opts.description = f.description;
  opts.labels = std::move(labels);
  auto bar =
      ProgressBar::ForStderr("upload " + std::filesystem::path(f.path).filename().string(), g.json);
  auto r = files.Upload(f.path, opts, bar->Callback());
  bar->Finish();                           // ends the bar's line before any error message
  if (!r.ok()) FailError(cmd, r.error());  // names the file and the reason
  if (g.json)
    PrintJson(FileJson(*r));
  else
    std::cout << r->file_id() << "\n";
}

void Download(const FileFlags& f, const Globals& g, sdk::FilesClient& files, std::string_view cmd) {
  auto bar = ProgressBar::ForStderr("download " + f.file_id, g.json);
  Status st = files.Download(f.file_id, f.out, bar->Callback());
  bar->Finish();
  if (!st.ok()) FailError(cmd, st.error());
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(f.out, ec);
  if (g.json)
    PrintJson({{"file_id", f.file_id}, {"path", f.out}, {"plaintext_size", ec ? 0 : size}});
  else
    std::cout << "Downloaded " << f.file_id << " to " << f.out << " (" << FormatBytes(size)
              << ")\n";
}

void Run(const std::string& sub, const FileFlags& f, const Globals& g) {
  const std::string cmd = "file " + sub;
  // Usage errors before any connection.
  auto labels = LabelsArg(f, cmd);
  Session s = Connect(g, cmd);
  auto& files = *s.files;
  if (sub == "upload") {
    Upload(f, g, files, cmd, std::move(labels));
  } else if (sub == "download") {
    Download(f, g, files, cmd);
  } else if (sub == "ls") {
    auto all = files.ListAll();
    if (!all.ok()) FailError(cmd, all.error());
    if (g.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& file : *all) arr.push_back(FileJson(file));
      PrintJson(arr);
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const auto& file : *all)
        rows.push_back({file.file_id(), FormatBytes(file.plaintext_size()),
                        FormatUnix(file.created_unix()), file.description()});
      PrintTable({"FILE_ID", "SIZE", "CREATED", "DESCRIPTION"}, rows);
    }
  } else if (sub == "stat") {
    auto info = files.Stat(f.file_id);
    if (!info.ok()) FailError(cmd, info.error());
    if (g.json)
      PrintJson(FileJson(*info));
    else
      PrintFile(*info);
  } else if (sub == "rm") {
    Status st = files.Delete(f.file_id);
    if (!st.ok()) FailError(cmd, st.error());
    if (g.json)
      PrintJson({{"file_id", f.file_id}, {"deleted", true}});
    else
      std::cout << "Deleted " << f.file_id << "\n";
  }
  PersistSession(g, *s.client);
}

CommandRegistrar reg("file", [](CLI::App& app, Globals& g) {
  auto* file = app.add_subcommand(
      "file", "encrypted files: encrypted here, stored as ciphertext, keys in the key vault");
  file->require_subcommand(1);
  auto add = [&](const std::string& name, const std::string& help) {
    auto flags = std::make_shared<FileFlags>();
    auto* sub = file->add_subcommand(name, help);
    sub->add_flag("--json", g.json, "machine-readable output");
    sub->callback([flags, &g, name] { Run(name, *flags, g); });
    return std::make_pair(sub, flags);
  };
  {
    auto [sub, f] = add("upload",
                        "encrypt a file with a fresh key and upload it (prints its file id); "
                        "a broken connection is resumed");
    sub->add_option("path", f->path, "the file to upload")->required();
    sub->add_option("--description", f->description, "a description (≤ 1 KiB)");
    // One KEY=VALUE per --label, so a following positional is never taken as a label.
    sub->add_option("--label", f->labels, "a label KEY=VALUE (repeatable, ≤ 32)")
        ->allow_extra_args(false);
  }
  {
    auto [sub, f] = add("download",
                        "download and decrypt a file; the output appears only once every "
                        "chunk authenticated");
    sub->add_option("file_id", f->file_id, "the file id (32 hex digits)")->required();
    sub->add_option("-o,--out", f->out, "where to write the plaintext (mode 0600)")->required();
  }
  add("ls", "list your files, newest first");
  {
    auto [sub, f] = add("stat", "a file's metadata (sizes, chunks, SHA-256, labels)");
    sub->add_option("file_id", f->file_id, "the file id")->required();
  }
  {
    auto [sub, f] = add("rm", "delete a file (its key is destroyed first, then the ciphertext)");
    sub->add_option("file_id", f->file_id, "the file id")->required();
  }
});

}  // namespace
}  // namespace cloister::cli
