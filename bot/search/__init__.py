"""From knowledge to ranked answers: passages, the analyzer, the lexical and dense indexes, the
index on disk, and the retriever that fuses them and decides whether to answer."""
