"""dynclient's request-body verdicts against openapi-core's, used as an oracle.

For a sample of operations of openapi-2025-04-29 (OpenAPI 3.0.0) and
openapi-2026-08-21 (3.1.0), every case (see tests/oracle_cases.py: the
document's own curl examples, hand-written bodies, and mutations of both) is
judged by ``Client.prepare`` and by openapi-core 0.23's request-body validator.

Each case has a *right* verdict: what it was built to be, unless RIGHT_VERDICTS
says otherwise (the document's own example contradicts the document). "Right" is
what the document means, read by its OpenAPI version's rules, where the
document's intent is evident resolved towards what the real API accepts
(nullable beside $ref or in a 3.1 document, boolean exclusiveMinimum in 3.1);
each such call is explained where it matters. The test asserts, per case:

* dynclient gives the right verdict (a failure here is a dynclient bug;
  DYNCLIENT_BUGS explains the ones known);
* openapi-core gives the right verdict too, i.e. both can judge and agree,
  except for the cases in KNOWN_DISAGREEMENTS, each explained by the
  openapi-core defect (or document defect it trips on). A known disagreement
  that stops disagreeing fails as well, so the list stays true.

Run as a script for the counts and openapi-core's timings:

    .venv/bin/python tests/test_oracle.py
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracle_cases import (INVALID, VALID, Case, OpenAPICoreOracle, Schemas, build_cases,  # noqa: E402
                          dynclient_verdict)

pytest.importorskip("openapi_core", reason="openapi-core is the oracle; it is not installed")

D25, D26 = "2025-04-29", "2026-08-21"
FIXTURES = {D25: "spec_2025", D26: "spec_2026"}

OPERATIONS = {
    D25: ["createAssistant", "modifyAssistant", "createChatCompletion", "createCompletion", "createEmbedding",
          "createModeration", "createThread", "createRun", "createThreadAndRun", "createMessage",
          "createVectorStore", "modifyVectorStore", "createBatch", "createFineTuningJob", "createImage",
          "createResponse", "createEval", "createEvalRun", "searchVectorStore", "createSpeech", "createUpload",
          "uploadCertificate"],
    D26: ["createChatCompletion", "createResponse", "createCompletion", "createFineTuningJob", "createImage",
          "createRun", "searchVectorStore", "createConversation", "CreateContainer", "Compactconversation"],
}


@dataclass(frozen=True)
class Defect:
    """Why openapi-core's verdict is wrong: `openapi_core` is what it says instead
    ("valid", "invalid", or "cannot judge")."""

    openapi_core: str
    why: str


def each(doc: str, op_id: str, value, *names: str) -> dict:
    """{(doc, op_id, name): value} for each name: the lists below stay explicit but short."""
    return {(doc, op_id, name): value for name in names}


# --- the right verdict, where it is not what the case was built to be ---------------------
#
# The document's own curl examples that its schemas reject: both validators say "invalid",
# and they are right to, since the schema is what a client can check. (The real API accepts
# all of these; the documents are wrong.) Their mutations are not generated.

RIGHT_VERDICTS: dict[tuple[str, str, str], tuple[str, str]] = {
    (D25, "createEval", "example:#0"): (INVALID, (
        "data_source_config.type is 'stored_completions', but this document's CreateEvalRequest allows "
        "only CreateEvalCustomDataSourceConfig or CreateEvalLogsDataSourceConfig (type 'custom' or 'logs'); "
        "also each testing_criteria[0].input message ({role, content: string}) matches both branches of "
        "CreateEvalItem = oneOf [SimpleInputMessage, EvalItem] (oneOf overlap, no discriminator), which "
        "fails oneOf")),
    (D25, "uploadCertificate", "example:#0"): (INVALID, (
        "the example sends 'certificate' (the field name of later documents); this document's "
        "UploadCertificateRequest requires 'content'")),
    (D25, "createResponse", "example:Image input"): (INVALID, (
        "the input_image part has no 'detail', which this document's InputImageContent requires (the API "
        "defaults it to 'auto'); no InputItem branch accepts the message then")),
    (D26, "createResponse", "example:Image input"): (INVALID, (
        "the input_image part has no 'detail', which this document's InputImageContent requires")),
    (D25, "createResponse", "example:Functions"): (INVALID, (
        "the function tool has no 'strict', which this document's FunctionTool requires")),
    (D26, "createResponse", "example:Functions"): (INVALID, (
        "the function tool has no 'strict', which this document's FunctionTool requires")),
    (D26, "createResponse", "example:File input"): (INVALID, (
        "the input message {role: user, content: [input_text, input_file]} has no 'type' and matches two "
        "InputItem branches, EasyInputMessage and Item (its InputMessage; both leave 'type' optional): "
        "oneOf overlap with no discriminating value to choose by, so oneOf fails under every reading")),
}

# --- dynclient bugs: the right verdict is not what dynclient says ------------------------
#
# None known. Two were found by this oracle and fixed in dynclient/schema.py: a declared
# discriminator whose property is absent now falls back to plain oneOf (InputItem's
# EasyInputMessage, `{role: user, content: "Hello"}`, needs no `type`), and a value allowed by
# several branches (`message`: EasyInputMessage and Item's own oneOf) accepts when any of them does.
# The probes "input message without type" and "earlier assistant output in input", and the 2026
# Compactconversation example, keep them fixed.

DYNCLIENT_BUGS: dict[tuple[str, str, str], str] = {}

# --- openapi-core defects: where it does not give the right verdict ----------------------


def no_mapping(where: str) -> Defect:
    return Defect("cannot judge", (
        f"discriminator without mapping: {where}. openapi-core's OAS validators "
        "(openapi_schema_validator/_keywords.py, handle_discriminator) do not evaluate the oneOf/anyOf at all "
        "when there is a discriminator: they validate against $ref '#/components/schemas/<value>' "
        "(the implicit mapping). OpenAI's documents give these unions a discriminator with no mapping and "
        "values that are not schema names, so the reference never resolves and every body through the union, "
        "valid or not, fails with \"reference ... could not be resolved\": openapi-core cannot judge. The "
        "document is at fault too (implicit mapping needs the values to be schema names), but the oneOf alone "
        "is well defined and the discriminator must not change its outcome (OAS 3.0.4/3.1.1); dynclient maps "
        "each value to the branch whose enum/const allows it, which is what the oneOf means"))


TOOL_NO_MAPPING = no_mapping(
    "tools[] is Tool = oneOf [FunctionTool, FileSearchTool, WebSearchPreviewTool, ...] with discriminator "
    "'type' and values 'function', 'file_search', 'web_search_preview', ... (no schema has those names)")
INPUT_ITEM_NO_MAPPING = no_mapping(
    "input[] (items[] of createConversation) is InputItem = oneOf [EasyInputMessage, Item, ...] with "
    "discriminator 'type'; a message has type 'message', and there is no schema 'message'")
CHAT_MESSAGE_NO_MAPPING = no_mapping(
    "messages[] is ChatCompletionRequestMessage = oneOf [ChatCompletionRequestDeveloperMessage, ...System..., "
    "...User..., ...] which the 2026 document gave `discriminator: {propertyName: role}` (2025-04-29 has none, "
    "and there openapi-core agrees); every message has role 'developer', 'user', ... and there is no schema "
    "'user', so openapi-core rejects even the document's own createChatCompletion examples (the design note's "
    "\"openapi-core rejects a valid createChatCompletion body on the 2026 document\")")
CONTAINER_NO_MAPPING = no_mapping(
    "skills[] (oneOf [SkillReferenceParam, InlineSkillParam]) and network_policy (oneOf "
    "[ContainerNetworkPolicyDisabledParam, ContainerNetworkPolicyAllowlistParam]) have discriminator 'type' "
    "and values 'skill_reference', 'allowlist': no such schemas")
FILTER_NO_MAPPING = no_mapping(
    "CompoundFilter.filters[] is oneOf [ComparisonFilter, {$recursiveRef: '#'}] with discriminator 'type' "
    "(values 'eq', 'and', ...: no such schemas). Even with a mapping, openapi-core's 3.1 validator "
    "(JSON Schema 2020-12) does not know the draft 2019-09 $recursiveRef; dynclient resolves it to the "
    "enclosing CompoundFilter")
DISCRIMINATOR_REQUIRED = Defect("invalid", (
    "openapi-core requires the discriminating property (handle_discriminator: \"does not contain "
    "discriminating property 'type'\") although EasyInputMessage leaves 'type' optional and the oneOf "
    "accepts the message; the discriminator must not change the outcome (OAS 3.0.4/3.1.1). dynclient "
    "is wrong here as well, see DYNCLIENT_BUGS"))
NULLABLE_WITHOUT_TYPE = Defect("invalid", (
    "model is {anyOf: [{type: string}, {$ref/enum of model names}], nullable: true}, with no 'type' beside "
    "nullable. openapi-core's OAS 3.0 validator honours nullable only inside its 'type' keyword "
    "(openapi_schema_validator/_keywords.py, type: `if instance is None: if schema.get('nullable')`), so a "
    "schema without 'type' never admits null. This document says 3.0.0, whose nullable 'allows sending a "
    "null value for the defined schema'; 3.0.3 narrowed it to schemas with a 'type', so by the letter of "
    "3.0.3+ openapi-core is right. The document means null (createRun: 'If not, the model associated with "
    "the assistant will be used'), the API and openai-python (model: Union[str, ChatModel, None]) accept it, "
    "and dynclient admits it on purpose (dynclient/schema.py module docstring); it is the useful verdict"))
NULLABLE_BESIDE_REF = Defect("invalid", (
    "reasoning is {$ref: Reasoning, nullable: true}. OpenAPI 3.0 ignores $ref siblings, so by the letter "
    "null is not allowed and openapi-core (Reasoning's type: object, no nullable there) rejects it. The "
    "document means 'Reasoning or null' (OpenAI's generator writes nullable $refs this way), the API and "
    "openai-python (reasoning: Optional[Reasoning]) accept null, and dynclient keeps this one sibling on "
    "purpose (dynclient/schema.py module docstring); dynclient's is the useful verdict"))
RECURSIVE_REF_30 = (
    "CompoundFilter.filters[] is oneOf [ComparisonFilter, {$recursiveRef: '#'}] ($recursiveAnchor on "
    "CompoundFilter, a draft 2019-09 construct in a 3.0 document). openapi-core's OAS 3.0 validator is "
    "draft-4 based and ignores $recursiveRef, so that branch is the empty schema: a ComparisonFilter nested "
    "in a CompoundFilter matches both branches and oneOf rejects it (\"is valid under each of\"), while a "
    "malformed nested CompoundFilter (filters: 'region = us') matches the empty branch and is accepted. "
    "dynclient resolves $recursiveRef '#' to the enclosing CompoundFilter, which is what the document "
    "means; dynclient is right both ways")
NULLABLE_31 = Defect("invalid", (
    "a 3.1 document that still writes the 3.0 keyword: {type: ..., nullable: true} (or anyOf ... nullable: "
    "true). JSON Schema 2020-12 has no 'nullable', and openapi-core's OAS 3.1 validator ignores it, so null "
    "is rejected; by the letter of 3.1 that is right. The document means nullable (the 2025-04-29 document "
    "has the same property as nullable 3.0, the API accepts null, openai-python types it Optional), and "
    "dynclient translates nullable in 3.1 documents as well, on purpose (dynclient/schema.py module "
    "docstring); dynclient's is the useful verdict"))
EXCLUSIVE_MINIMUM_31 = Defect("invalid", (
    "beta / learning_rate_multiplier is {type: number, minimum: 0, exclusiveMinimum: true} (0 < x) in a 3.1 "
    "document. 2020-12 wants a number in exclusiveMinimum; openapi-core's 3.1 validator (jsonschema's "
    "exclusiveMinimum) compares the instance with True == 1, so it rejects 0.1, 0.5 and 1 (\"less than or "
    "equal to the minimum of True\") and accepts 1.5 (openapi-spec-validator flags the schema itself: "
    "\"True is not of type 'number'\"). The document means 'greater than 0' (it is the 3.0 "
    "form, and 3.0 openapi-core reads it so on 2025-04-29); the API accepts beta 0.1 (OpenAI's own DPO "
    "example, kept here as example:DPO). dynclient translates the boolean form to exclusiveMinimum: 0 "
    "and is right"))

KNOWN_DISAGREEMENTS: dict[tuple[str, str, str], Defect] = {
    # 2025-04-29 (OpenAPI 3.0.0)
    **each(D25, "createRun", NULLABLE_WITHOUT_TYPE, "example:Default / nullable:model", "minimal / nullable:model"),
    **each(D25, "createThreadAndRun", NULLABLE_WITHOUT_TYPE,
           "example:Default / nullable:model", "minimal / nullable:model"),
    **each(D25, "createImage", NULLABLE_WITHOUT_TYPE, "example:#0 / nullable:model", "minimal / nullable:model"),
    **each(D25, "createResponse", NULLABLE_BESIDE_REF, "example:Reasoning / nullable:reasoning", "probe:reasoning null"),
    **each(D25, "createResponse", TOOL_NO_MAPPING,
           "example:Web search", "example:Web search / drop:model", "example:Web search / type:model",
           "example:Web search / null:model", "example:Web search / nullable:temperature",
           "example:File search", "example:File search / drop:model", "example:File search / type:model",
           "example:File search / null:model", "example:File search / nullable:temperature",
           "example:Functions", "probe:unknown tool type"),
    # probe:typed input message ({type: message, role: user, content: [input_text]}) is right as
    # "valid" only by dynclient's reading of a discriminator: the value names a branch and that
    # branch decides. Plain oneOf rejects it, since it matches EasyInputMessage and Item's
    # InputMessage alike (a document defect: the two overlap); the API accepts it, and the 2026
    # document's own createConversation example uses that form. Strictly by OAS 3.1.1 ("MUST NOT
    # change the validation outcome") it would be invalid; openapi-core cannot judge it either way.
    **each(D25, "createResponse", INPUT_ITEM_NO_MAPPING,
           "probe:typed input message", "probe:earlier assistant output in input"),
    **each(D25, "createResponse", DISCRIMINATOR_REQUIRED, "probe:input message without type"),
    (D25, "searchVectorStore", "probe:comparison inside compound filter"): Defect("invalid", RECURSIVE_REF_30),
    (D25, "searchVectorStore", "probe:malformed compound inside compound filter"): Defect("valid", RECURSIVE_REF_30),

    # 2026-08-21 (OpenAPI 3.1.0)
    **each(D26, "createChatCompletion", CHAT_MESSAGE_NO_MAPPING,
           "example:Default", "example:Default / drop:model", "example:Default / type:model",
           "example:Default / null:model", "example:Default / nullable:temperature",
           "example:Image input", "example:Image input / drop:model", "example:Image input / type:model",
           "example:Image input / null:model", "example:Image input / nullable:max_tokens",
           "example:Streaming", "example:Streaming / drop:model", "example:Streaming / type:model",
           "example:Streaming / null:model", "example:Streaming / nullable:stream",
           "example:Functions", "example:Functions / drop:model", "example:Functions / type:model",
           "example:Functions / null:model", "example:Functions / nullable:temperature",
           "example:Logprobs", "example:Logprobs / drop:model", "example:Logprobs / type:model",
           "example:Logprobs / null:model", "example:Logprobs / nullable:logprobs",
           "minimal", "minimal / drop:model", "minimal / type:model", "minimal / null:model",
           "minimal / nullable:temperature",
           "probe:unknown role", "probe:tool call round trip", "probe:temperature null"),
    **each(D26, "createResponse", TOOL_NO_MAPPING,
           "example:Web search", "example:Web search / type:model", "example:Web search / null:model",
           "example:Web search / nullable:temperature",
           "example:File search", "example:File search / type:model", "example:File search / null:model",
           "example:File search / nullable:temperature",
           "example:Functions", "probe:unknown tool type"),
    **each(D26, "createResponse", INPUT_ITEM_NO_MAPPING,
           "probe:typed input message", "probe:earlier assistant output in input"),
    **each(D26, "createResponse", DISCRIMINATOR_REQUIRED, "probe:input message without type"),
    **each(D26, "createConversation", INPUT_ITEM_NO_MAPPING,
           "example:#0", "example:#0 / type:metadata", "example:#0 / nullable:metadata"),
    **each(D26, "Compactconversation", INPUT_ITEM_NO_MAPPING,
           "example:#0", "example:#0 / drop:model", "example:#0 / type:model"),
    **each(D26, "CreateContainer", CONTAINER_NO_MAPPING,
           "example:#0", "example:#0 / drop:name", "example:#0 / type:name", "example:#0 / enum:memory_limit",
           "example:#0 / null:name"),
    **each(D26, "searchVectorStore", FILTER_NO_MAPPING,
           "probe:comparison inside compound filter", "probe:compound inside compound filter",
           "probe:malformed compound inside compound filter"),
    **each(D26, "createCompletion", NULLABLE_31, "example:No streaming / nullable:max_tokens",
           "example:Streaming / nullable:max_tokens", "minimal / nullable:best_of"),
    **each(D26, "createFineTuningJob", NULLABLE_31, "example:Default / nullable:suffix",
           "example:Epochs / nullable:suffix", "example:Reinforcement / nullable:validation_file",
           "example:Validation file / nullable:validation_file", "minimal / nullable:suffix"),
    **each(D26, "createFineTuningJob", EXCLUSIVE_MINIMUM_31, "example:DPO", "probe:dpo beta 0.1",
           "probe:dpo beta 1", "probe:learning_rate_multiplier 0.5"),
    (D26, "createFineTuningJob", "example:DPO / nullable:validation_file"): Defect("invalid", (
        "two defects at once, both described above: validation_file {type: string, nullable: true} "
        "(nullable in a 3.1 document, ignored by openapi-core) and beta 0.1 under {minimum: 0, "
        "exclusiveMinimum: true} (compared with True == 1 by openapi-core's 3.1 validator)")),
    **each(D26, "createImage", NULLABLE_31, "example:Generate image / nullable:model",
           "example:Streaming / nullable:model", "minimal / nullable:model"),
    **each(D26, "createRun", NULLABLE_31, "example:Default / nullable:model", "example:Streaming / nullable:stream",
           "example:Streaming with Functions / nullable:tools", "minimal / nullable:model"),
}


# --- the machinery ------------------------------------------------------------------------


@dataclass
class Judges:
    """Both validators for one document, and the cases of its sampled operations."""

    doc: str
    client: object
    spec: object
    oracle: OpenAPICoreOracle
    schemas: Schemas
    cases: dict[str, list[Case]] = field(default_factory=dict)

    @classmethod
    def build(cls, doc: str, path: Path) -> "Judges":
        import dynclient

        spec = dynclient.Spec(dynclient.load(path))
        client = dynclient.Client(spec, base_url="http://127.0.0.1:9/v1")
        oracle = OpenAPICoreOracle(dynclient.load(path).data)   # its own copy of the document
        judges = cls(doc, client, spec, oracle, Schemas(spec.data))
        for op_id in OPERATIONS[doc]:
            not_valid = {name for (d, op, name), (verdict, _) in RIGHT_VERDICTS.items()
                         if (d, op) == (doc, op_id) and verdict != VALID}
            judges.cases[op_id] = build_cases(doc, spec, judges.schemas, op_id, not_valid)
        return judges

    def judge(self, case: Case) -> tuple[str, str]:
        op = self.spec.operations[case.op_id]
        return (dynclient_verdict(self.client, case.op_id, case.body),
                self.oracle.verdict(op.method, op.path, case.body))


def check(judges: Judges, op_id: str) -> tuple[list[str], dict[str, int]]:
    """Problems found on one operation's cases, and counts."""
    problems: list[str] = []
    counts: dict[str, int] = {}
    cases = judges.cases[op_id]
    for case in cases:
        right, _ = RIGHT_VERDICTS.get(case.key, (case.intended, ""))
        ours, theirs = judges.judge(case)
        outcome = ("openapi-core cannot judge" if theirs.startswith("cannot judge")
                   else "agree" if ours == theirs else "disagree")
        outcome += ", dynclient right" if ours == right else ", dynclient WRONG"
        counts[outcome] = counts.get(outcome, 0) + 1
        where = f"{case.doc} {case.op_id} {case.name!r}"
        bug = DYNCLIENT_BUGS.get(case.key)
        if ours != right:
            problems.append(f"{where}: dynclient says {ours}, the right verdict is {right}"
                            + (f" [known dynclient bug: {bug}]" if bug else ""))
        elif bug:
            problems.append(f"{where}: dynclient now gives the right verdict ({right}); "
                            f"remove the entry from DYNCLIENT_BUGS")
        known = KNOWN_DISAGREEMENTS.get(case.key)
        if known is None and theirs != right:
            problems.append(f"{where}: openapi-core says {theirs}, dynclient {ours}, the right verdict is {right}; "
                            f"an unexplained disagreement: find out which side is right and why")
        elif known is not None and theirs == right:
            problems.append(f"{where}: openapi-core now gives the right verdict ({right}); "
                            f"remove the entry from KNOWN_DISAGREEMENTS")
        elif known is not None and not theirs.startswith(known.openapi_core):
            problems.append(f"{where}: openapi-core now says {theirs}, where KNOWN_DISAGREEMENTS expects "
                            f"{known.openapi_core}; check the explanation")
    names = {case.key for case in cases}
    for listing in (RIGHT_VERDICTS, DYNCLIENT_BUGS, KNOWN_DISAGREEMENTS):
        for key in listing:
            if key[:2] == (judges.doc, op_id) and key not in names:
                problems.append(f"{key}: listed, but no such case is generated any more")
    return problems, counts


@pytest.fixture(scope="module")
def judges() -> dict[str, Judges]:
    """Both validators per document, built on first use (the document fixture skips without it)."""
    return {}


def get_judges(request, cache: dict[str, Judges], doc: str) -> Judges:
    if doc not in cache:
        cache[doc] = Judges.build(doc, request.getfixturevalue(FIXTURES[doc]))
    return cache[doc]


@pytest.mark.parametrize("doc,op_id", [(doc, op) for doc, ops in OPERATIONS.items() for op in ops])
def test_verdicts_agree_with_openapi_core(request, judges, doc, op_id):
    problems, _ = check(get_judges(request, judges, doc), op_id)
    assert not problems, "\n".join(problems)


def test_listed_operations_have_cases(request, judges):
    """Every sampled operation yields cases, and the curl examples are really being read."""
    for doc in OPERATIONS:
        found = get_judges(request, judges, doc)
        for op_id, cases in found.cases.items():
            assert cases, f"{doc} {op_id}: no cases"
        examples = sum(c.name.startswith("example:") and " / " not in c.name
                       for cases in found.cases.values() for c in cases)
        assert examples >= 25, f"{doc}: only {examples} example bodies read from x-oaiMeta"


def test_disagreement_lists_name_sampled_operations():
    for listing in (RIGHT_VERDICTS, DYNCLIENT_BUGS, KNOWN_DISAGREEMENTS):
        for doc, op_id, _ in listing:
            assert op_id in OPERATIONS.get(doc, ()), f"{doc} {op_id} is listed but not sampled"


# --- as a script: the numbers -------------------------------------------------------------


def main() -> None:
    corpus = Path(os.environ.get("DYNCLIENT_CORPUS")
                  or Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai")
    for doc in OPERATIONS:
        started = time.perf_counter()
        found = Judges.build(doc, corpus / f"openai-{doc}.yaml")
        built = time.perf_counter() - started
        totals: dict[str, int] = {"cases": 0}
        started = time.perf_counter()
        problems = []
        for op_id in OPERATIONS[doc]:
            more, counts = check(found, op_id)
            problems += more
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
                totals["cases"] += value
        judged = time.perf_counter() - started
        print(f"{doc}: {len(OPERATIONS[doc])} operations, {totals}")
        print(f"  openapi-core: OpenAPI.from_dict {found.oracle.build_seconds * 1000:.1f} ms, "
              f"first validation {found.oracle.first_validation_seconds * 1000:.1f} ms, "
              f"slowest {found.oracle.slowest_validation_seconds * 1000:.1f} ms; "
              f"setup (both loads, Spec, cases) {built:.2f} s, judging all cases {judged:.2f} s")
        for problem in problems:
            print("  PROBLEM", problem)


if __name__ == "__main__":
    main()
