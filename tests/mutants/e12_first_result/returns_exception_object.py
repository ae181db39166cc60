# expect: MISSED_RESULT
# why: returns exception() or result() of the first finished future, handing back a failure as if it were an answer.
from concurrent.futures import ThreadPoolExecutor, as_completed


def first_result(fns, timeout):
    pool = ThreadPoolExecutor(max_workers=len(fns))
    futures = [pool.submit(fn) for fn in fns]
    try:
        for future in as_completed(futures, timeout=timeout):
            return future.exception() or future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
