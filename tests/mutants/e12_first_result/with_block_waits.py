# expect: HANG
# why: returns from inside a `with ThreadPoolExecutor` block, whose exit waits for the slow functions to finish.
from concurrent.futures import ThreadPoolExecutor, as_completed


def first_result(fns, timeout):
    with ThreadPoolExecutor(max_workers=len(fns)) as pool:
        futures = [pool.submit(fn) for fn in fns]
        last_error = None
        for future in as_completed(futures, timeout=timeout):
            exc = future.exception()
            if exc is None:
                return future.result()
            last_error = exc
        raise last_error
