// passages.cpp: original text written for Ridgeline's virtual users (no third-party content).
#include "serving/passages.h"

namespace rl {

const std::vector<std::string>& builtin_passages() {
    static const std::vector<std::string> p = {
        "A graphics processor was first built to draw triangles, but its real talent is doing the same small "
        "calculation on thousands of numbers at once. Each streaming multiprocessor holds dozens of warps, and "
        "while one warp waits for memory another one computes, so the chip hides latency by always having "
        "something else to do. The price of that design is that the processor is only fast when it is fed: "
        "data must arrive from memory at an enormous rate, and every byte that is read twice is time wasted.",
        "When a language model answers a question it first reads the whole prompt in one pass, which is called "
        "prefill, and then produces the answer one token at a time, which is called decode. Prefill multiplies "
        "large matrices by many tokens together and keeps the arithmetic units busy. Decode multiplies the same "
        "matrices by a single token per conversation, so almost all of its time is spent streaming the weights "
        "out of memory. Batching many conversations together lets one pass over the weights serve them all.",
        "The key-value cache stores, for every token a conversation has already seen, the keys and values that "
        "attention needs. Without it each new token would require recomputing the entire history. With it the "
        "cost moves from arithmetic to memory: a long conversation can occupy gigabytes, and the number of "
        "conversations a server can hold at once is set by how much of this cache fits next to the weights.",
        "Paged attention borrows an idea from operating systems. Instead of reserving one long contiguous region "
        "for each conversation, the cache is cut into small fixed-size blocks and every sequence keeps a table "
        "that maps its logical positions to physical blocks. Memory is handed out a block at a time, nothing is "
        "wasted on reservations that are never used, and blocks holding a shared prefix can be shared outright.",
        "A harbour town wakes slowly in winter. The fishing boats leave before dawn with their lamps still lit, "
        "the bakery opens its shutters to let out the smell of bread, and the gulls argue over the nets that "
        "were left on the quay. By noon the market is full of people who have known each other all their lives, "
        "trading news about the weather, the catch, and the ferry that is late again because of the wind.",
        "The history of computing is a history of moving data closer to where it is used. Registers sit next to "
        "the arithmetic units, caches sit next to the registers, and main memory sits further away behind a bus "
        "whose width and speed decide how fast the whole machine can really run. Every generation of hardware "
        "has raised the number of operations per second faster than the number of bytes per second, so more "
        "and more programs find that the limit is not how fast they can compute but how fast they can read.",
        "Gardening teaches patience in a way few other hobbies do. Seeds planted in spring will not show what "
        "they are until summer, and a tree planted today may not give fruit for years. The soil has to be fed, "
        "the weeds have to be pulled before they seed, and the water has to come at the right time rather than "
        "all at once. In return the garden gives back food, shade, and a reason to be outside every morning.",
        "Scheduling is the art of deciding who goes next. A fair scheduler serves requests in the order they "
        "arrive, a priority scheduler lets urgent work jump the queue, and a good one does both while keeping "
        "the machine busy. When memory runs out, something has to give: a running request can be paused and its "
        "work thrown away to be recomputed later, or copied out to slower memory to be brought back when room "
        "frees up. Both choices cost time, and the cost grows with the length of the conversation.",
    };
    return p;
}

const std::vector<std::string>& builtin_questions() {
    static const std::vector<std::string> q = {
        "What is the main idea of this?", "Can you explain that more simply?", "Why does that matter?",
        "Give me an example.", "What would change if memory were twice as fast?", "Summarise that in one sentence.",
        "What is the most surprising part?", "How would you explain this to a child?",
        "What are the trade-offs here?", "Tell me more about the last point.",
    };
    return q;
}

const std::vector<std::string>& builtin_writing_tasks() {
    static const std::vector<std::string> w = {
        "Write a long story about a lighthouse keeper who finds a message in a bottle.",
        "Write a detailed essay about why memory bandwidth limits modern computers.",
        "Write a travel diary of a week spent walking along a coastline.",
        "Write a long letter from a gardener to their neighbour about the changing seasons.",
        "Write a detailed guide to planning a small harbour festival.",
    };
    return w;
}

} // namespace rl
