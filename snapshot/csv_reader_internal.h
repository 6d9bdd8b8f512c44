// The CSV reader's scalar and AVX-512 row scans, for tests that compare them. Internal to snapshot/.

#ifndef KUZUSYNC_SNAPSHOT_CSV_READER_INTERNAL_H_
#define KUZUSYNC_SNAPSHOT_CSV_READER_INTERNAL_H_

#include "snapshot/csv_reader.h"

namespace kuzusync {

// True when this CPU and OS run AVX-512BW (and the BMI and POPCNT that
// come with it); CsvReader scans rows with it there. Valgrind's CPU has no
// AVX-512, so under valgrind every row takes the scalar path.
bool CpuScansCsvRowsWithAvx512();

class CsvReaderInternal {
 public:
  // `reader` scans with the scalar code whatever the CPU. Call before its
  // first row.
  static void UseScalarScan(CsvReader* reader) { reader->scan_with_avx512_ = false; }
  static bool ScansWithAvx512(const CsvReader& reader) { return reader.scan_with_avx512_; }

#if defined(__x86_64__)
  // CsvReader::ParseRow where CpuScansCsvRowsWithAvx512(): the same
  // results as ParseRowScalar, from one pass over the row.
  __attribute__((target("avx512f,avx512bw,bmi,bmi2,popcnt"))) static CsvReader::Parse ParseRowAvx512(
      CsvReader* reader, size_t begin, size_t keep, size_t* next, Status* error);
#endif
};

}  // namespace kuzusync

#endif  // KUZUSYNC_SNAPSHOT_CSV_READER_INTERNAL_H_
