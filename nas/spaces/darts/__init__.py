"""The DARTS space: genotypes (:mod:`.genotypes`), the supernet a search runs (:mod:`.supernet`)
and the network a found cell trains in (:mod:`.network`)."""
