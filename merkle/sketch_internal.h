// The sketch encoder's scalar and AVX-512 stepping, for tests that compare them. Internal to merkle/.

#ifndef KUZUSYNC_MERKLE_SKETCH_INTERNAL_H_
#define KUZUSYNC_MERKLE_SKETCH_INTERNAL_H_

#include <cstdint>

#include "merkle/merkle.h"

namespace kuzusync::merkle {

// Each step multiplies an element's prng by this, then maps it to a gap.
constexpr uint64_t kSketchPrngMultiplier = 0xda942042e4dd58b5ULL;

// One step of each of `lanes` (1 to 8) elements: index[l] becomes the next
// symbol after index[l] that element l goes to (~0 for none), and prng[l]
// advances. Both give the same bits. StepLanesAvx512 runs only where
// CpuStepsLanesWithAvx512(); SketchEncoder uses it there.
void StepLanesScalar(int lanes, uint64_t* index, uint64_t* prng);
void StepLanesAvx512(int lanes, uint64_t* index, uint64_t* prng);
bool CpuStepsLanesWithAvx512();

class SketchEncoderInternal {
 public:
  // `encoder` steps with StepLanesScalar whatever the CPU.
  static void UseScalarStepping(SketchEncoder* encoder) { encoder->scalar_only_ = true; }
};

}  // namespace kuzusync::merkle

#endif  // KUZUSYNC_MERKLE_SKETCH_INTERNAL_H_
