"""The `segdebug live` terminal UI (Textual).

  app.py        LiveApp and create_app: installs the screens, owns the line source (a worker)
                and the buffer, handles lines through protocol.dispatch
  screens/      one module per view, registered once in screens/__init__.py (SCREENS);
                events.py (list + detail), help.py (the `?` modal), base.py (what a view gets)
  widgets/      one module per region: status_bar, search_bar, event_table, detail_tabs
  tabs.py       the one registry of detail tabs (bindings, tab bar and help come from it)
  model.py      the 500-event buffer, LIVE/PAUSED, filter and follow state (no Textual)
  rows.py       the text and layout of a list row;  detail.py, pretty.py: the tabs' text
  search.py     the query the search bar's words and toggles add up to
  export.py     bytes for copy (`y`) and write (`w`)
  sources.py    LineSource: a collector's socket or an archive file
  launcher.py   the embedded collector;  run.py: `segdebug live`
  live.tcss     the styles
"""
