"""The query language as `segdebug help query` prints it."""

HELP = """\
Search events the way you search mail or GitHub issues.

  checkout                 a word anywhere in the event's raw JSON (case-insensitive)
  "order completed"        a phrase; inside quotes write \\" for a quote, \\\\ for a backslash
  type:track               a field, matched exactly but case-insensitively
  event:"Order Completed"  quote values with spaces
  properties.plan:pro      any dotted path into the message
  properties.products.sku:X  a path through a list matches if any item matches
  properties.products.0.sku:X  ... or pick one item by its index
  user:test*               '*' matches anything (write \\* for a literal star)
  type:track,page          commas: any of these values
  properties.total>100     comparisons > >= < <= on numbers and ISO timestamps
  timestamp>=2024-05-01    (a value of another type never matches)
  properties.price:>50     a colon before the comparison works too
  properties.coupon:null   a field that is present and null
  has:properties.coupon    the field is present and not null
  is:refused               refused by the collector (also: is:accepted; is:rejected works too)
  is:invalid               refused or has an error-level problem (also: is:valid, is:warning)
  after:2024-05-01         event time (timestamp, else originalTimestamp, else receivedAt)
  before:2024-05-01T12:00:00Z   after: is inclusive, before: is exclusive

Shortcuts: user: (userId or anonymousId), name: (event, or page/screen name),
id: (messageId), source: (write key), type:, event:.

Combine terms:
  type:track event:Signup        both (AND is implied; writing AND is fine too)
  type:page OR type:screen       either (AND binds tighter than OR)
  -user:test*  NOT is:valid      leave out what matches
  (type:track OR type:page) -is:refused    parentheses group

Examples:
  segdebug tail --filter 'type:track properties.total>100 -user:test*'
  segdebug replay archive.ndjson --to http://127.0.0.1:9000 --dry-run \\
      --filter 'event:"Order Completed" after:2024-05-01'
"""
