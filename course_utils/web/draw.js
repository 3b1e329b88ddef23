// The drawing page of the course's digit service (course_utils/serve.py serves it at GET /).
// Draw on #pad with pointer events (mouse, touch, pen); when a stroke ends, the drawing is sent to
// POST /predict as {"format": "drawing", "image": rows of ink 0..255}, shrunk from the pad's 280 pixels
// to SEND_SIDE pixels square. The service prepares it like MNIST (crop, scale to 20 px, centre of mass in the middle of
// 28×28) and answers with the digit, the ten probabilities and the 28×28 input the model received.
"use strict";

const SEND_SIDE = 112;          // the drawing is sent at 112×112 pixels: 0.4 of the pad's 280
const STROKE_WIDTH = 18;        // pixels on the 280×280 pad; a digit drawn small gets thicker strokes once scaled up
const ANSWER_TIMEOUT_MS = 10000;  // give up waiting for the service after 10 s

const pad = document.getElementById("pad");
const pen = pad.getContext("2d");
const preview = document.getElementById("preview");
const digitBox = document.getElementById("digit");
const barList = document.getElementById("bars");
const statusLine = document.getElementById("status");
const bars = [];

let activePointer = null;       // the pointer drawing now; a second finger or pen is ignored
let lastPoint = null;
let inkOnPad = false;
let requestNumber = 0;          // answers to older requests (before a Clear or a newer stroke) are ignored

function buildBars() {
  for (let digit = 0; digit < 10; digit += 1) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    const track = document.createElement("span");
    const fill = document.createElement("span");
    const value = document.createElement("span");
    label.textContent = String(digit);
    track.className = "track";
    fill.className = "fill";
    value.className = "value";
    track.appendChild(fill);
    item.append(label, track, value);
    barList.appendChild(item);
    bars.push({ item, fill, value });
  }
}

function showProbabilities(probabilities) {
  const best = probabilities.indexOf(Math.max(...probabilities));
  probabilities.forEach((probability, digit) => {
    bars[digit].fill.style.width = `${(100 * probability).toFixed(1)}%`;
    bars[digit].value.textContent = `${(100 * probability).toFixed(1)} %`;
    bars[digit].item.classList.toggle("top", digit === best);
  });
}

function clearAnswer() {
  digitBox.textContent = "";
  bars.forEach(({ item, fill, value }) => {
    fill.style.width = "0";
    value.textContent = "";
    item.classList.remove("top");
  });
  preview.getContext("2d").clearRect(0, 0, preview.width, preview.height);
}

function showInput(pixels) {
  // pixels: 28 rows of 28 numbers 0..255 (ink), drawn dark on white like the pad
  const context = preview.getContext("2d");
  const image = context.createImageData(preview.width, preview.height);
  pixels.forEach((row, y) => row.forEach((ink, x) => {
    const offset = 4 * (y * preview.width + x);
    const grey = 255 - ink;
    image.data[offset] = grey;
    image.data[offset + 1] = grey;
    image.data[offset + 2] = grey;
    image.data[offset + 3] = 255;
  }));
  context.putImageData(image, 0, 0);
}

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

function padPoint(event) {
  // the drawable area starts inside the pad's border: clientLeft/clientTop are the border's widths
  const box = pad.getBoundingClientRect();
  return { x: (event.clientX - box.left - pad.clientLeft) * (pad.width / pad.clientWidth),
           y: (event.clientY - box.top - pad.clientTop) * (pad.height / pad.clientHeight) };
}

function strokeTo(point) {
  pen.beginPath();
  pen.moveTo(lastPoint.x, lastPoint.y);
  pen.lineTo(point.x, point.y);
  pen.stroke();
  lastPoint = point;
  inkOnPad = true;
}

function startStroke(event) {
  if (event.button !== 0 || activePointer !== null) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  activePointer = event.pointerId;
  requestNumber += 1;           // an answer to an earlier stroke must not appear while this one is drawn
  lastPoint = padPoint(event);
  pen.beginPath();              // a tap leaves a dot (a line of length 0 would draw nothing)
  pen.arc(lastPoint.x, lastPoint.y, STROKE_WIDTH / 2, 0, 2 * Math.PI);
  pen.fill();
  inkOnPad = true;
}

function continueStroke(event) {
  if (event.pointerId !== activePointer) return;
  event.preventDefault();
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  (events.length ? events : [event]).forEach((each) => strokeTo(padPoint(each)));
}

function endStroke(event) {
  if (event.pointerId !== activePointer) return;
  activePointer = null;
  predict();
}

function inkRows() {
  // the pad downscaled to SEND_SIDE × SEND_SIDE; the ink is the alpha channel (the pad is transparent)
  const small = document.createElement("canvas");
  small.width = SEND_SIDE;
  small.height = SEND_SIDE;
  const context = small.getContext("2d");
  context.imageSmoothingQuality = "high";
  context.drawImage(pad, 0, 0, SEND_SIDE, SEND_SIDE);
  const alpha = context.getImageData(0, 0, SEND_SIDE, SEND_SIDE).data;
  const rows = [];
  for (let y = 0; y < SEND_SIDE; y += 1) {
    const row = new Array(SEND_SIDE);
    for (let x = 0; x < SEND_SIDE; x += 1) row[x] = alpha[4 * (y * SEND_SIDE + x) + 3];
    rows.push(row);
  }
  return rows;
}

async function predict() {
  if (!inkOnPad) return;
  requestNumber += 1;
  const thisRequest = requestNumber;
  setStatus("Reading…");
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ANSWER_TIMEOUT_MS);
  try {
    const response = await fetch("/predict", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ format: "drawing", image: inkRows() }),
      signal: abort.signal,
    });
    if (!(response.headers.get("Content-Type") || "").startsWith("application/json")) {
      throw new Error(`the answer was not JSON (status ${response.status})`);
    }
    const answer = await response.json();
    if (thisRequest !== requestNumber) return;
    if (!response.ok) {
      clearAnswer();
      setStatus(`The service answered ${response.status}: ${answer.error}`, true);
      return;
    }
    const probabilities = answer.probabilities[0];
    digitBox.textContent = String(answer.predictions[0]);
    showProbabilities(probabilities);
    showInput(answer.inputs[0]);
    setStatus(`Read as ${answer.predictions[0]} (${(100 * Math.max(...probabilities)).toFixed(0)} %). ` +
              "Draw more to change it, or Clear to start again.");
  } catch (error) {
    const reason = error.name === "AbortError" ? `no answer within ${ANSWER_TIMEOUT_MS / 1000} s` : error.message;
    if (thisRequest === requestNumber) setStatus(`No answer from the service (${reason}). Is it still running?`, true);
  } finally {
    clearTimeout(timer);
  }
}

function clearAll() {
  requestNumber += 1;
  activePointer = null;
  inkOnPad = false;
  pen.clearRect(0, 0, pad.width, pad.height);
  clearAnswer();
  setStatus("Draw a digit in the box.");
}

pen.lineWidth = STROKE_WIDTH;
pen.lineCap = "round";
pen.lineJoin = "round";
pen.strokeStyle = "#1b1b1f";
pen.fillStyle = "#1b1b1f";
buildBars();
clearAnswer();
pad.addEventListener("pointerdown", startStroke);
pad.addEventListener("pointermove", continueStroke);
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
document.getElementById("clear").addEventListener("click", clearAll);
document.addEventListener("keydown", (event) => { if (event.key === "Escape") clearAll(); });
