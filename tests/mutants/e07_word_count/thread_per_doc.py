# expect: OVER_LIMIT
# why: starts a thread per document and ignores max_workers.
import threading
from collections import Counter


def word_count(docs, max_workers=4):
    partial = [None] * len(docs)

    def count(i, doc):
        partial[i] = Counter(doc.split())

    threads = [threading.Thread(target=count, args=(i, d)) for i, d in enumerate(docs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = Counter()
    for c in partial:
        total.update(c)
    return dict(total)
