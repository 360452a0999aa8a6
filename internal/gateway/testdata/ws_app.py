# A FastAPI (Starlette) WebSocket service for internal/gateway's WebSocket
# tests: /ws/echo echoes text and binary messages; /seen says how many
# handshakes reached it, so tests can tell that a refused one did not.
import sys

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
seen = {"handshakes": 0}


@app.get("/seen")
def get_seen():
    return seen


@app.websocket("/ws/echo")
async def echo(ws: WebSocket):
    seen["handshakes"] += 1
    await ws.accept()
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("text") is not None:
                await ws.send_text(msg["text"])
            else:
                await ws.send_bytes(msg["bytes"])
    except WebSocketDisconnect:
        return


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", ws="websockets")
