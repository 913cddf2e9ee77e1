# syntax=docker/dockerfile:1.4
FROM python:3.12-slim AS gen
WORKDIR /gen
RUN <<EOT
#!/usr/bin/env python3
import json, pathlib
pathlib.Path("/gen/out").mkdir(parents=True, exist_ok=True)
pathlib.Path("/gen/out/build.json").write_text(json.dumps({"ok": True}))
EOT

FROM python:3.12-slim
COPY --from=gen /gen/out/build.json /etc/app/build.json
RUN python3 <<-PY
	import json
	print(json.load(open("/etc/app/build.json")))
	PY
CMD ["python3", "-c", "print('ready')"]
