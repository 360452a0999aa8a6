// Package doctest tests the documentation: README.md and docs/*.md.
//
// The tests (nothing here runs in production) check that every link stays
// inside the repository and resolves, that every example config passes
// `rampart check`, and that the walkthroughs work as written: their commands
// and files are extracted from the Markdown and run against real FastAPI and
// Flask services with a freshly built rampart binary.
//
// Blocks are marked by their fence's info string:
//
//	```yaml                     first line "# rampart.yaml": a complete config, checked
//	```yaml fragment            part of a config (or not a Rampart config): not checked
//	```yaml file=rampart.yaml   a walkthrough file, written to the work directory
//	```python file=app.py       likewise
//	```sh walkthrough           commands, run in order by one bash, as written
//	```text expect              what the previous walkthrough block prints:
//	                            each line must match an output line, in order;
//	                            "…" matches anything
//	```sh tour                  the README's tour: each command's comment
//	                            starts with the status it gets from the demo
//
// A walkthrough's ports (127.0.0.1:8000, --port 8000) are replaced by free
// ones, so tests running in parallel do not collide; nothing else is changed.
package doctest
