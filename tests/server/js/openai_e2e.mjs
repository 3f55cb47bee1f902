// The official openai client against a running `rocmforge serve` (URL as the argument):
// completions, chat, streaming with usage, errors, a json_schema response, a tool round trip (the
// call also streamed) and embeddings.
// Exits non-zero on the first failure.
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

// Structured output: the random-weight model's reply must still be JSON valid for the schema.
const person = await client.chat.completions.create({
  model,
  messages: [{ role: "user", content: "Describe a person" }],
  max_tokens: 120,
  seed: 2,
  response_format: {
    type: "json_schema",
    json_schema: {
      name: "person",
      strict: true,
      schema: {
        type: "object",
        properties: { name: { type: "string", maxLength: 6 }, age: { type: "integer", minimum: 0, maximum: 99 } },
        required: ["name", "age"],
        additionalProperties: false,
      },
    },
  },
});
assert.equal(person.choices[0].finish_reason, "stop");
const parsed = JSON.parse(person.choices[0].message.content);
assert.deepEqual(Object.keys(parsed), ["name", "age"]);
assert.ok(Number.isInteger(parsed.age) && parsed.age >= 0 && parsed.age <= 99, `age ${parsed.age}`);

// A tool round trip: a required call, its result sent back, and a reply.
const tools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "The weather in a city",
      parameters: { type: "object", properties: { city: { type: "string", maxLength: 8 } }, required: ["city"] },
    },
  },
];
const question = { role: "user", content: "Weather in Oslo?" };
const called = await client.chat.completions.create({
  model, messages: [question], tools, tool_choice: "required", max_tokens: 60, seed: 3,
});
assert.equal(called.choices[0].finish_reason, "tool_calls");
const call = called.choices[0].message.tool_calls[0];
assert.equal(call.function.name, "get_weather");
assert.equal(typeof JSON.parse(call.function.arguments).city, "string");
// The same request streamed: the client's own accumulator of tool-call deltas (the call's id,
// type and name first, then its arguments in fragments) ends with the same call.
const streamedCall = client.beta.chat.completions.stream({
  model, messages: [question], tools, tool_choice: "required", max_tokens: 60, seed: 3,
});
let argumentDeltas = 0;
streamedCall.on("tool_calls.function.arguments.delta", () => { argumentDeltas += 1; });
const final = await streamedCall.finalChatCompletion();
assert.equal(final.choices[0].finish_reason, "tool_calls");
const streamedCall0 = final.choices[0].message.tool_calls[0];
assert.ok(streamedCall0.id.startsWith("call_"), streamedCall0.id);
assert.equal(streamedCall0.type, "function");
assert.equal(streamedCall0.function.name, call.function.name);
assert.equal(streamedCall0.function.arguments, call.function.arguments);
assert.ok(argumentDeltas > 2, `arguments in ${argumentDeltas} deltas`);
const answer = await client.chat.completions.create({
  model,
  messages: [question, called.choices[0].message, { role: "tool", tool_call_id: call.id, content: '{"temp": 21}' }],
  tools,
  tool_choice: "none",
  max_tokens: 4,
  temperature: 0,
});
assert.equal(answer.choices[0].message.role, "assistant");
assert.equal(typeof answer.choices[0].message.content, "string");

// Embeddings (the server runs with --embeddings): the client asks for base64 by default and
// decodes it; floats on request give the same vector; unit length; the same text twice is identical.
const cosine = (a, b) => a.reduce((sum, x, i) => sum + x * b[i], 0);
const embedded = await client.embeddings.create({ model, input: ["the cat sat", "the cat sat", "42 + 17 = 59"] });
assert.equal(embedded.object, "list");
assert.equal(embedded.data.length, 3);
assert.deepEqual(embedded.data.map((d) => d.index), [0, 1, 2]);
const [first, again, other] = embedded.data.map((d) => d.embedding);
assert.ok(first.length > 0);
assert.ok(Math.abs(cosine(first, first) - 1) < 1e-4, "unit length");
assert.deepEqual(again, first);
assert.ok(cosine(first, other) < 0.9999, "different texts differ");
assert.ok(embedded.usage.prompt_tokens > 0 && embedded.usage.total_tokens === embedded.usage.prompt_tokens);
const floats = await client.embeddings.create({ model, input: "the cat sat", encoding_format: "float" });
assert.equal(floats.data[0].embedding.length, first.length);
floats.data[0].embedding.forEach((x, i) => assert.ok(Math.abs(x - first[i]) < 1e-6));
await assert.rejects(client.embeddings.create({ model, input: "" }), (e) => e.status === 400);

console.log("openai client e2e: ok");
