# expect: SWALLOWED_EXCEPTION
# why: when everything fails it raises a RuntimeError of its own, hiding the original exception behind it.
from concurrent.futures import ThreadPoolExecutor, as_completed


def first_result(fns, timeout):
    pool = ThreadPoolExecutor(max_workers=len(fns))
    futures = [pool.submit(fn) for fn in fns]
    last_error = None
    try:
        for future in as_completed(futures, timeout=timeout):
            exc = future.exception()
            if exc is None:
                return future.result()
            last_error = exc
        raise RuntimeError(f"all {len(fns)} functions failed") from last_error
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
