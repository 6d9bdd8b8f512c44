// ChunkedText: a SequentialFile over a string that hands out at most a few
// bytes a read, for the unit tests and fuzz targets of buffered readers
// (rows then end anywhere in the buffer, with stale bytes behind them).

#ifndef KUZUSYNC_TESTS_CHUNKED_TEXT_H_
#define KUZUSYNC_TESTS_CHUNKED_TEXT_H_

#include <algorithm>
#include <string>

#include "snapshot/env.h"

namespace kuzusync {

class ChunkedText final : public SequentialFile {
 public:
  // `text` must outlive this.
  ChunkedText(const std::string& text, size_t chunk) : text_(text), chunk_(chunk) {}
  // Later reads go on from `position` (at most the text's end).
  void MoveTo(size_t position) { position_ = std::min(position, text_.size()); }
  Status Read(size_t n, char* scratch, size_t* read) override {
    *read = text_.copy(scratch, std::min(n, chunk_), position_);
    position_ += *read;
    return Status::Ok();
  }

 private:
  const std::string& text_;
  const size_t chunk_;
  size_t position_ = 0;
};

}  // namespace kuzusync

#endif  // KUZUSYNC_TESTS_CHUNKED_TEXT_H_
