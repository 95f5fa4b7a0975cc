#include "engine/sequence.h"

namespace podserve {

Sequence::Sequence(SeqId id_, RequestState* request_, int index_, std::vector<int32_t> prompt, uint64_t seed,
                   const Tokenizer& tokenizer, const SamplingParams& params)
    : id(id_),
      request(request_),
      index(index_),
      tokens(std::move(prompt)),
      num_prompt(static_cast<int>(tokens.size())),
      rng(seed),
      penalties(tokens),
      detokenizer(tokenizer, params.skip_special_tokens),
      stop_checker(params.stop, params.include_stop_str_in_output) {}

}  // namespace podserve
