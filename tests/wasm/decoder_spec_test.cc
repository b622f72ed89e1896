// Sweeps the official WebAssembly 2.0 spec suite through decode().
//
// Each .wast file under RUSM_SPEC_DIR is converted with wast2json
// (RUSM_WAST2JSON) into a temporary directory. Then, for every binary module
// the suite uses:
//   - "module", and the modules of assert_unlinkable/assert_uninstantiable
//     (all valid): decode() must succeed;
//   - assert_malformed (binary): decode() must fail with kMalformed, and the
//     reason must start with the suite's expected text (the reference test
//     runner's prefix rule);
//   - assert_invalid (binary): decode() may accept it (errors in function
//     bodies are the compiler's), but when it rejects it, the code must be
//     kInvalid and the reason must start with the expected text. The number
//     it rejects is printed.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "wasm/decoder.h"

namespace rusm::wasm {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The reason part of "<section> section, offset 0x..: <reason>".
std::string reason_of(const std::string& message) {
  size_t colon = message.find(": ");
  return colon == std::string::npos ? message : message.substr(colon + 2);
}

// A temporary directory removed when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "rusm-decoder-spec-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) {
      path_ = tmpl;
    }
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct Counts {
  int files = 0;
  int modules = 0;
  int modules_decoded = 0;
  int malformed = 0;
  int malformed_rejected = 0;
  int invalid = 0;
  int invalid_caught = 0;
};

TEST(DecoderSpecTest, SuiteModulesDecodeMalformedAreRejectedInvalidAreCounted) {
  const fs::path spec_dir = RUSM_SPEC_DIR;
  ASSERT_TRUE(fs::is_directory(spec_dir)) << "spec suite not found at " << spec_dir;
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty()) << "cannot create a temporary directory";

  std::vector<fs::path> wasts;
  for (const auto& entry : fs::directory_iterator(spec_dir)) {
    if (entry.path().extension() == ".wast") {
      wasts.push_back(entry.path());
    }
  }
  std::sort(wasts.begin(), wasts.end());
  ASSERT_FALSE(wasts.empty()) << "no .wast files in " << spec_dir;

  Counts n;
  int failures = 0;
  constexpr int kMaxReported = 50;
  auto fail = [&](const std::string& where, const std::string& what) {
    if (++failures <= kMaxReported) {
      ADD_FAILURE() << where << ": " << what;
    }
  };

  for (const fs::path& wast : wasts) {
    const std::string stem = wast.stem().string();
    const fs::path dir = tmp.path() / stem;
    fs::create_directories(dir);
    const fs::path json_path = dir / (stem + ".json");
    const std::string cmd = std::string("\"") + RUSM_WAST2JSON + "\" \"" + wast.string() +
                            "\" -o \"" + json_path.string() + "\" 2>\"" +
                            (dir / "wast2json.err").string() + "\"";
    if (std::system(cmd.c_str()) != 0) {
      fail(wast.filename().string(), "wast2json failed: " + cmd);
      continue;
    }
    ++n.files;
    std::ifstream in(json_path);
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      fail(json_path.string(), "cannot parse wast2json output");
      continue;
    }
    for (const auto& command : doc["commands"]) {
      if (!command.contains("filename")) {
        continue;
      }
      const std::string type = command["type"].get<std::string>();
      const std::string module_type = command.value("module_type", "binary");
      if (module_type != "binary") {
        continue;
      }
      const std::string where =
          wast.filename().string() + ":" + std::to_string(command["line"].get<int>());
      const fs::path wasm = dir / command["filename"].get<std::string>();
      const std::vector<uint8_t> bytes = read_file(wasm);
      auto result = decode(bytes, CompileOptions{});
      const std::string expected = command.value("text", "");

      if (type == "module" || type == "assert_unlinkable" || type == "assert_uninstantiable") {
        ++n.modules;
        if (result.is_ok()) {
          ++n.modules_decoded;
        } else {
          fail(where, type + " must decode, got: " + result.message());
        }
      } else if (type == "assert_malformed") {
        ++n.malformed;
        if (result.is_ok()) {
          fail(where, "malformed module (\"" + expected + "\") was accepted");
        } else if (result.error().code() != static_cast<int>(ErrorCode::kMalformed)) {
          fail(where, "expected kMalformed (\"" + expected + "\"), got code " +
                          std::to_string(result.error().code()) + ": " + result.message());
        } else if (reason_of(result.message()).rfind(expected, 0) != 0) {
          fail(where, "expected \"" + expected + "\", got: " + result.message());
        } else {
          ++n.malformed_rejected;
        }
      } else if (type == "assert_invalid") {
        ++n.invalid;
        if (result.is_ok()) {
          continue;  // left to the compiler
        }
        if (result.error().code() != static_cast<int>(ErrorCode::kInvalid)) {
          fail(where, "expected kInvalid (\"" + expected + "\"), got code " +
                          std::to_string(result.error().code()) + ": " + result.message());
        } else if (reason_of(result.message()).rfind(expected, 0) != 0) {
          fail(where, "expected \"" + expected + "\", got: " + result.message());
        } else {
          ++n.invalid_caught;
        }
      }
    }
  }
  if (failures > kMaxReported) {
    ADD_FAILURE() << (failures - kMaxReported) << " more failures not shown";
  }
  std::printf(
      "spec sweep: %d files; modules decoded %d/%d; malformed rejected %d/%d; "
      "invalid caught by the decoder %d/%d\n",
      n.files, n.modules_decoded, n.modules, n.malformed_rejected, n.malformed, n.invalid_caught,
      n.invalid);
  EXPECT_EQ(n.files, static_cast<int>(wasts.size()));
  EXPECT_GT(n.modules, 0);
}

}  // namespace
}  // namespace rusm::wasm
