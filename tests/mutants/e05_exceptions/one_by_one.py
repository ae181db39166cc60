# expect: NO_OVERLAP
# why: handles every item in a plain loop in the calling thread, so nothing runs concurrently.
def run_all(fn, items, max_workers=4):
    results, errors = {}, {}
    for item in items:
        try:
            results[item] = fn(item)
        except Exception as exc:
            errors[item] = exc
    return results, errors
