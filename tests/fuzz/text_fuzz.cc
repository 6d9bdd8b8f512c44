// Fuzzes the parsers of text that arrives from outside: schema.cypher,
// copy.cypher, a bundle MANIFEST (which must round-trip) and tree files.

#include <cstdlib>

#include "archive/archive.h"
#include "merkle/merkle.h"
#include "snapshot/snapshot.h"

using namespace kuzusync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ParseSchema(text, "schema.cypher");
  (void)ParseCopyStatements(text, "copy.cypher");
  (void)merkle::Tree::Deserialize(text, "tree");
  Result<Manifest> manifest = Manifest::Parse(text, "MANIFEST");
  if (manifest.ok()) {
    Result<Manifest> again = Manifest::Parse(manifest->Serialize(), "MANIFEST");
    if (!again.ok() || again->Serialize() != manifest->Serialize()) std::abort();
  }
  return 0;
}
