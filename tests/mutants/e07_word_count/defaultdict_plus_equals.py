# expect: RACE
# why: `counts[word] += 1` on a shared defaultdict is still read, add, write; tasks overwrite each other.
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor


def word_count(docs, max_workers=4):
    counts = defaultdict(int)

    def count(doc):
        for word in doc.split():
            counts[word] += 1

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for doc in docs:
            pool.submit(count, doc)
    return dict(counts)
