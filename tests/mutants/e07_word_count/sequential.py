# expect: NO_OVERLAP
# why: counts the documents one after another in the calling thread, never concurrently.
from collections import Counter


def word_count(docs, max_workers=4):
    total = Counter()
    for doc in docs:
        total.update(doc.split())
    return dict(total)
