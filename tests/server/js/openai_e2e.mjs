// The official openai client against a running `rocmforge serve` (URL as the argument):
// completions, chat, streaming with usage, and an error. Exits non-zero on the first failure.
import assert from "node:assert/strict";
import OpenAI from "openai";

const base = process.argv[2];
if (!base) {
  console.error("usage: node openai_e2e.mjs http://HOST:PORT");
  process.exit(2);
}
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "test-key", maxRetries: 0 });

const models = await client.models.list();
const model = models.data[0].id;
assert.ok(model, "a model is listed");

const completion = await client.completions.create({ model, prompt: "Hello", max_tokens: 5, temperature: 0 });
assert.equal(completion.object, "text_completion");
assert.equal(completion.choices.length, 1);
assert.equal(typeof completion.choices[0].text, "string");
assert.equal(completion.usage.completion_tokens, 5);
assert.equal(completion.choices[0].finish_reason, "length");

const chat = await client.chat.completions.create({
  model,
  messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }],
  max_tokens: 4,
  temperature: 0,
  n: 2,
});
assert.equal(chat.object, "chat.completion");
assert.equal(chat.choices.length, 2);
assert.equal(chat.choices[0].message.role, "assistant");
assert.equal(chat.choices[0].message.content, chat.choices[1].message.content, "greedy choices agree");

const stream = await client.chat.completions.create({
  model,
  messages: [{ role: "user", content: "Hi" }],
  max_tokens: 4,
  temperature: 0,
  stream: true,
  stream_options: { include_usage: true },
});
let streamed = "";
let finish = null;
let usage = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    streamed += c.delta.content ?? "";
    if (c.finish_reason) finish = c.finish_reason;
  }
}
assert.equal(finish, "length");
assert.equal(usage.completion_tokens, 4);
const plain = await client.chat.completions.create({
  model,
  messages: [{ role: "user", content: "Hi" }],
  max_tokens: 4,
  temperature: 0,
});
assert.equal(streamed, plain.choices[0].message.content, "streamed and whole greedy replies agree");

await assert.rejects(
  client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], temperature: 7 }),
  (err) => {
    assert.ok(err instanceof OpenAI.BadRequestError, `expected a 400, got ${err}`);
    assert.equal(err.status, 400);
    assert.equal(err.error?.param ?? err.param, "temperature");
    return true;
  },
);
await assert.rejects(client.chat.completions.create({ model, messages: [] }), (err) => err.status === 400);

console.log("openai client e2e: ok");
