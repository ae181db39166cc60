# expect: RACE
# why: every task adds into one shared dict with get-then-set and no lock, so concurrent updates of a word are lost.
from concurrent.futures import ThreadPoolExecutor


def word_count(docs, max_workers=4):
    counts = {}

    def count(doc):
        for word in doc.split():
            counts[word] = counts.get(word, 0) + 1

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        list(pool.map(count, docs))
    return counts
