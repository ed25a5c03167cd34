"""`python -m sandbox truth` answers a bad range with one clear line and exit status 2."""

import pytest

from sandbox.__main__ import main

SHOP = "alpine-outfitters.myshopify.com"


@pytest.mark.parametrize("start,end,message", [
    ("0001-01-01", "0001-01-05", "--start 0001-01-01 is outside 1970-01-01 to 2999-12-31"),
    ("2026-01-01", "9999-12-31", "--end 9999-12-31 is outside 1970-01-01 to 2999-12-31"),
    ("2026-03-05", "2026-03-01", "--start 2026-03-05 is after --end 2026-03-01"),
    ("2026-02-30", "2026-03-01", "--start '2026-02-30' is not a date (YYYY-MM-DD)"),
])
def test_a_bad_range_is_one_line_and_status_2(capsys, start, end, message):
    with pytest.raises(SystemExit) as exit_:
        main(["truth", "--stores", "1", "--shop", SHOP, "--start", start, "--end", end])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {message}\n" and captured.out == ""


def test_a_good_range_prints_the_truth(capsys):
    main(["truth", "--stores", "1", "--shop", SHOP, "--start", "2026-03-01", "--end", "2026-03-01"])
    assert '"date": "2026-03-01"' in capsys.readouterr().out
