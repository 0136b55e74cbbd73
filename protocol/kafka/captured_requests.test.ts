// Golden bytes: request frames recorded from kcat/librdkafka, kafkajs and
// @platformatic/kafka (testing/fixtures/) decode with our codecs, end exactly
// where the frame ends, carry the fields the client was asked to send, and
// re-encode to the same bytes.

import { describe, expect, test } from "bun:test";
import { Compression, compressionOf, readBatchHeader, validateBatch } from "../record_batch.ts";
import { KafkaDecodeReason } from "./decode_error.ts";
import { decodeRequestHeader, encodeRequestHeader } from "./header.ts";
import * as m from "./messages/mod.ts";
import { KAFKA_MESSAGE_SPECS } from "./messages/mod.ts";
import { KafkaReader } from "./reader.ts";
import { decodeMessage, encodeMessage } from "./schema.ts";
import type { CapturedRequest } from "./testing/fixtures/captured_request.ts";
import { KAFKAJS_REQUESTS } from "./testing/fixtures/kafkajs.ts";
import { KCAT_REQUESTS } from "./testing/fixtures/kcat.ts";
import { PLATFORMATIC_REQUESTS } from "./testing/fixtures/platformatic.ts";
import { decodeError, fromHex, toHex } from "./testing/helpers.ts";
import { KafkaApiKey } from "./versions.ts";
import { KafkaWriter } from "./writer.ts";

const CLIENTS: [string, readonly CapturedRequest[], string][] = [
  ["kcat", KCAT_REQUESTS, "rdkafka"],
  ["kafkajs", KAFKAJS_REQUESTS, "kafkajs-capture"],
  ["platformatic", PLATFORMATIC_REQUESTS, "platformatic-capture"],
];

function frameOf(list: readonly CapturedRequest[], apiKey: number, scenario?: string): { reader: KafkaReader; version: number } {
  const c = list.find((x) => x.apiKey === apiKey && (scenario === undefined || x.scenario === scenario));
  if (c === undefined) throw new Error(`no captured frame for api ${apiKey} ${scenario ?? ""}`);
  const reader = new KafkaReader(fromHex(c.hex));
  const h = decodeRequestHeader(reader);
  return { reader, version: h.apiVersion };
}

for (const [client, frames, clientId] of CLIENTS) {
  describe(`${client} requests`, () => {
    for (const c of frames) {
      test(`${c.scenario}: ${c.api} v${c.apiVersion} decodes whole and re-encodes to the same bytes`, () => {
        const bytes = fromHex(c.hex);
        const r = new KafkaReader(bytes);
        const h = decodeRequestHeader(r);
        expect([h.apiKey, h.apiVersion]).toEqual([c.apiKey, c.apiVersion]);
        expect(h.clientId).toBe(clientId);
        const spec = KAFKA_MESSAGE_SPECS.find((s) => s.request.apiKey === c.apiKey)!.request;
        const value = decodeMessage(spec, r, c.apiVersion);
        const w = new KafkaWriter();
        encodeRequestHeader(w, h);
        encodeMessage(spec, w, c.apiVersion, value as never);
        expect(toHex(w.finish())).toBe(c.hex);
      });

      test(`${c.scenario}: ${c.api} v${c.apiVersion} cut at every byte throws TRUNCATED`, () => {
        const bytes = fromHex(c.hex);
        const spec = KAFKA_MESSAGE_SPECS.find((s) => s.request.apiKey === c.apiKey)!.request;
        for (let n = 0; n < bytes.length; n++) {
          const r = new KafkaReader(bytes.subarray(0, n));
          const e = decodeError(() => {
            decodeRequestHeader(r);
            decodeMessage(spec, r, c.apiVersion);
          });
          expect(e.reason).toBe(KafkaDecodeReason.TRUNCATED);
        }
      });
    }
  });
}

describe("fields the clients were asked to send", () => {
  test("kcat -L asks Metadata v4 first for brokers only (no topics), then for every topic (null)", () => {
    const asked = KCAT_REQUESTS.filter((c) => c.scenario === "metadata" && c.apiKey === KafkaApiKey.Metadata).map((c) => {
      const r = new KafkaReader(fromHex(c.hex));
      const h = decodeRequestHeader(r);
      expect(h.apiVersion).toBe(4);
      return m.decodeMetadataRequest(r, h.apiVersion).topics;
    });
    expect(asked).toEqual([[], null]);
  });

  test("kcat -P -z gzip sends gzip batches of its two keyed records, acks all, as views of the frame", () => {
    let records = 0;
    for (const c of KCAT_REQUESTS.filter((x) => x.scenario === "produce-gzip" && x.apiKey === KafkaApiKey.Produce)) {
      const bytes = fromHex(c.hex);
      const r = new KafkaReader(bytes);
      const h = decodeRequestHeader(r);
      const req = m.decodeProduceRequest(r, h.apiVersion);
      expect(req.acks).toBe(-1);
      expect(req.transactionalId).toBeNull();
      expect(req.topicData[0].name).toBe("capture");
      const batch = req.topicData[0].partitionData[0].records!;
      expect(batch.buffer).toBe(bytes.buffer);
      const summary = validateBatch(batch, 0, batch.length, 1 << 20);
      expect(summary.size).toBe(batch.length);
      expect(compressionOf(summary.attributes)).toBe(Compression.GZIP);
      records += summary.recordCount;
    }
    expect(records).toBe(2);
  });

  test("kcat with enable.idempotence asks InitProducerId and then stamps the batch with the id it got", () => {
    const init = frameOf(KCAT_REQUESTS, KafkaApiKey.InitProducerId);
    const req = m.decodeInitProducerIdRequest(init.reader, init.version);
    expect(req.transactionalId).toBeNull();
    expect(req.producerId).toBe(-1n);
    const p = frameOf(KCAT_REQUESTS, KafkaApiKey.Produce, "produce-idempotent");
    const records = m.decodeProduceRequest(p.reader, p.version).topicData[0].partitionData[0].records!;
    const header = readBatchHeader(records, 0);
    expect(header.producerId).toBe(4000n); // what the capture server's InitProducerId answered
    expect(header.producerEpoch).toBe(0);
    expect(header.baseSequence).toBe(0);
    expect(compressionOf(header.attributes)).toBe(Compression.ZSTD);
  });

  test("kcat -C -o beginning asks ListOffsets for the earliest offset (-2), then fetches from 0", () => {
    const lo = frameOf(KCAT_REQUESTS, KafkaApiKey.ListOffsets);
    expect(m.decodeListOffsetsRequest(lo.reader, lo.version).topics[0].partitions[0].timestamp).toBe(-2n);
    const f = frameOf(KCAT_REQUESTS, KafkaApiKey.Fetch);
    const req = m.decodeFetchRequest(f.reader, f.version);
    expect(req.replicaId).toBe(-1);
    expect(req.topics[0].topic).toBe("capture");
    expect(req.topics[0].partitions[0].fetchOffset).toBe(0n);
  });

  test("kcat -G joins as a consumer offering its assignors and leaves by member id", () => {
    const j = frameOf(KCAT_REQUESTS, KafkaApiKey.JoinGroup);
    const join = m.decodeJoinGroupRequest(j.reader, j.version);
    expect(join.groupId).toBe("kcat-group");
    expect(join.protocolType).toBe("consumer");
    expect(join.protocols.map((p) => p.name)).toEqual(["range", "roundrobin"]);
    const l = frameOf(KCAT_REQUESTS, KafkaApiKey.LeaveGroup);
    expect(m.decodeLeaveGroupRequest(l.reader, l.version).memberId).toBe("member-1");
  });

  test("kafkajs sends keyed records with headers, gzip, acks -1; and commits offset 1 for its group", () => {
    const p = frameOf(KAFKAJS_REQUESTS, KafkaApiKey.Produce);
    const req = m.decodeProduceRequest(p.reader, p.version);
    expect(req.acks).toBe(-1);
    const records = req.topicData[0].partitionData[0].records!;
    expect(compressionOf(validateBatch(records, 0, records.length, 1 << 20).attributes)).toBe(Compression.GZIP);
    const c = frameOf(KAFKAJS_REQUESTS, KafkaApiKey.OffsetCommit);
    const commit = m.decodeOffsetCommitRequest(c.reader, c.version);
    expect(commit.groupId).toBe("kafkajs-group");
    expect(commit.topics[0].partitions[0].committedOffset).toBe(1n);
  });

  test("kafkajs admin: CreateTopics, CreatePartitions, DescribeConfigs and AlterConfigs carry what was asked", () => {
    const ct = frameOf(KAFKAJS_REQUESTS, KafkaApiKey.CreateTopics);
    expect(m.decodeCreateTopicsRequest(ct.reader, ct.version).topics[0]).toMatchObject({ name: "capture", numPartitions: 1 });
    const cp = frameOf(KAFKAJS_REQUESTS, KafkaApiKey.CreatePartitions);
    expect(m.decodeCreatePartitionsRequest(cp.reader, cp.version).topics[0]).toMatchObject({ name: "capture", count: 2 });
    const dc = frameOf(KAFKAJS_REQUESTS, KafkaApiKey.DescribeConfigs);
    expect(m.decodeDescribeConfigsRequest(dc.reader, dc.version).resources[0]).toMatchObject({ resourceType: 2, resourceName: "capture" });
    const ac = frameOf(KAFKAJS_REQUESTS, KafkaApiKey.AlterConfigs);
    expect(m.decodeAlterConfigsRequest(ac.reader, ac.version).resources[0].configs).toEqual([{ name: "retention.ms", value: "1000" }]);
    const dt = frameOf(KAFKAJS_REQUESTS, KafkaApiKey.DeleteTopics);
    expect(m.decodeDeleteTopicsRequest(dt.reader, dt.version).topicNames).toEqual(["capture-deleted"]);
  });

  test("@platformatic/kafka speaks the flexible versions: Metadata v12, Produce v9, Fetch v12, OffsetCommit v8", () => {
    const md = frameOf(PLATFORMATIC_REQUESTS, KafkaApiKey.Metadata);
    expect(md.version).toBe(12);
    expect(m.decodeMetadataRequest(md.reader, md.version).topics?.map((t) => t.name)).toEqual(["capture"]);
    const p = frameOf(PLATFORMATIC_REQUESTS, KafkaApiKey.Produce);
    expect(p.version).toBe(9);
    const records = m.decodeProduceRequest(p.reader, p.version).topicData[0].partitionData[0].records!;
    expect(validateBatch(records, 0, records.length, 1 << 20).recordCount).toBe(1);
    const f = frameOf(PLATFORMATIC_REQUESTS, KafkaApiKey.Fetch);
    expect(f.version).toBe(12);
    expect(m.decodeFetchRequest(f.reader, f.version).topics[0].topic).toBe("capture");
    const c = frameOf(PLATFORMATIC_REQUESTS, KafkaApiKey.OffsetCommit);
    expect(c.version).toBe(8);
    expect(m.decodeOffsetCommitRequest(c.reader, c.version).groupId).toBe("platformatic-group");
  });

  test("@platformatic/kafka's ApiVersions v3 names the client software", () => {
    const a = frameOf(PLATFORMATIC_REQUESTS, KafkaApiKey.ApiVersions);
    const req = m.decodeApiVersionsRequest(a.reader, a.version);
    expect(req.clientSoftwareName.length).toBeGreaterThan(0);
  });
});
