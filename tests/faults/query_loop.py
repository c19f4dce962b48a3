"""One user's governed queries in a loop, in its own process (the concurrency test starts three).

``python -m tests.faults.query_loop HOME USER STOP_FILE OUT_FILE``: until STOP_FILE exists,
open a governed session (each open resolves the newest build manifest), run the user's
query from :data:`QUERIES` and append ``{"a": .., "b": ..}`` or ``{"error": ..}`` to OUT_FILE.
Each query reads two views over two different tables of one build, so a reader that saw
tables of two builds at once would report a pair no build ever produced.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

#: user -> a query of two numbers that come from two different tables of the same build
QUERIES = {
    # alive persons (base.population) and the alive persons the population structure counts (a topic mart)
    "hz_analyst": "SELECT (SELECT count(*) FROM population WHERE alive) AS a, "
                  "(SELECT sum(hukou_persons) FROM population_structure WHERE division_level = 2) AS b",
    # alive persons by province (one topic mart) and deaths registered (another)
    "zj_leader": "SELECT (SELECT sum(hukou_persons) FROM population_structure WHERE division_level = 1) AS a, "
                 "(SELECT sum(deaths_registered) FROM vital_statistics WHERE division_level = 1) AS b",
    "national_leader": "SELECT (SELECT sum(hukou_persons) FROM population_structure WHERE division_level = 1) AS a, "
                       "(SELECT sum(deaths_registered) FROM vital_statistics WHERE division_level = 1) AS b",
}


def main(home: str, user: str, stop: str, out: str) -> int:
    from govlake.errors import GovLakeError
    from views.session import open_session

    with open(out, "a", encoding="utf-8") as results:
        while not Path(stop).exists():
            try:
                with open_session(user, home=home) as session:
                    row = session.sql(QUERIES[user]).row(0)
                record = {"a": int(row[0] or 0), "b": int(row[1] or 0)}
            except GovLakeError as error:
                record = {"error": str(error)}
            results.write(json.dumps(record) + "\n")
            results.flush()
            time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
