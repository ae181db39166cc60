# expect: MISSED_RESULT
# why: sets the "done" event in a finally block, so a quick failure wakes the caller, which returns None.
import threading


def first_result(fns, timeout):
    done = threading.Event()
    lock = threading.Lock()
    state = {"result": None, "errors": []}

    def run(fn):
        try:
            value = fn()
            with lock:
                if state["result"] is None:
                    state["result"] = value
        except Exception as exc:
            with lock:
                state["errors"].append(exc)
        finally:
            done.set()

    for fn in fns:
        threading.Thread(target=run, args=(fn,), daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"nothing finished within {timeout} seconds")
    with lock:
        if len(state["errors"]) == len(fns):
            raise state["errors"][-1]
        return state["result"]
