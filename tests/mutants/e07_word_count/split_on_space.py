# expect: WRONG_RESULT
# why: splits on a single space, so tabs, newlines and runs of spaces produce wrong words.
from collections import Counter
from concurrent.futures import ThreadPoolExecutor


def word_count(docs, max_workers=4):
    total = Counter()
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for counts in pool.map(lambda doc: Counter(doc.split(" ")), docs):
            total.update(counts)
    return dict(total)
