# expect: OVER_LIMIT
# why: starts one thread per url instead of a bounded pool, so max_workers is never honoured.
import threading


def fetch_all(fetch, urls, max_workers=4):
    results = [None] * len(urls)

    def worker(i, url):
        results[i] = fetch(url)

    threads = [threading.Thread(target=worker, args=(i, url)) for i, url in enumerate(urls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
