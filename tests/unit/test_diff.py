"""generator.diff, the engine of `msgen diff`, on small templates written as dicts: what is added, removed, modified,
replaced (from cfn-lint's provider schemas) or changed in metadata only, and what loses data."""

from __future__ import annotations

import copy
import datetime
import json

import pytest

from generator.diff import DATA_HOLDING, MISSING, Schemas, compare, pair, pointer_label, pointer_parts, project, references, render_text


def template(**resources) -> dict:
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


def table(key: str = "id", retain: bool = False, **extra) -> dict:
    res = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
            **extra,
        },
        "Metadata": {"msgen": {"source": "persistence.tables[orders]"}},
    }
    if retain:
        res["DeletionPolicy"] = res["UpdateReplacePolicy"] = "Retain"
    return res


def function(memory: int = 512, **extra) -> dict:
    return {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": memory, "Runtime": "python3.12", **extra}}


def only(diff, lid):
    (rc,) = [r for r in diff.resources if r.logical_id == lid]
    return rc


def test_identical_templates_have_no_changes():
    t = template(Orders=table(), Fn=function())
    d = compare(t, copy.deepcopy(t))
    assert d.empty and d.resources == [] and d.sections == []
    assert "No changes." in render_text(d, "old", "new")


def test_added_removed_and_modified_in_place():
    old = template(Fn=function(512), Gone={"Type": "AWS::SNS::Subscription", "Properties": {"Protocol": "sqs"}})
    new = template(Fn=function(1024), New={"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": "{}"}})
    d = compare(old, new)
    assert {r.logical_id: r.action for r in d.resources} == {"Fn": "modified", "Gone": "removed", "New": "added"}
    fn = only(d, "Fn")
    assert [(c.path, c.old, c.new) for c in fn.changes] == [("Properties.MemorySize", 512, 1024)]
    assert not fn.replacement and not d.data_loss  # MemorySize is not create-only; a subscription holds no data
    text = render_text(d, "old", "new")
    assert "Properties.MemorySize: 512 -> 1024" in text and "+ New" in text and "- Gone" in text


def test_a_create_only_property_replaces_the_bucket_and_loses_its_objects():
    old = template(Receipts={"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "receipts-a"}})
    new = template(Receipts={"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "receipts-b"}})
    rc = only(compare(old, new), "Receipts")
    assert rc.action == "replaced" and [(r.property, r.reason) for r in rc.replacement] == [("BucketName", "create-only")]
    assert rc.data_loss and not rc.retained and rc.holds_data == DATA_HOLDING["AWS::S3::Bucket"]
    assert rc.policy == "UpdateReplacePolicy Delete"


def test_a_table_key_change_is_a_replacement_from_the_conditional_create_only_list():
    # DynamoDB's schema lists KeySchema under conditionalCreateOnlyProperties; a Table's key cannot change in place.
    assert ("/properties/KeySchema", True) in Schemas().create_only("AWS::DynamoDB::Table")
    rc = only(compare(template(Orders=table("id")), template(Orders=table("pk"))), "Orders")
    assert rc.action == "replaced" and rc.replacement[0].property == "KeySchema"
    assert "conditionally create-only" in rc.replacement[0].reason
    assert rc.data_loss


def test_an_updatable_table_property_is_modified_in_place():
    old = template(Orders=table())
    new = template(Orders=table(PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}))
    rc = only(compare(old, new), "Orders")
    assert rc.action == "modified" and not rc.data_loss


def test_replacing_a_retained_resource_is_still_data_loss_with_the_old_one_kept():
    rc = only(compare(template(Orders=table("id", retain=True)), template(Orders=table("pk", retain=True))), "Orders")
    assert rc.action == "replaced" and rc.data_loss and rc.retained
    assert any("kept with its data, detached" in n for n in rc.notes)


def test_dropping_retain_in_the_same_update_that_replaces_is_not_trusted():
    new = table("pk", retain=True)
    new["UpdateReplacePolicy"] = "Delete"
    rc = only(compare(template(Orders=table("id", retain=True)), template(Orders=new)), "Orders")
    assert rc.data_loss and not rc.retained and rc.policy == "UpdateReplacePolicy Retain -> Delete"


def test_removing_a_retained_resource_is_a_warning_not_data_loss():
    d = compare(template(Orders=table(retain=True), Fn=function()), template(Fn=function()))
    rc = only(d, "Orders")
    assert rc.action == "removed" and rc.retained and not rc.data_loss and d.unallowed() == []
    assert "retained, detached from the stack" in render_text(d, "old", "new")


@pytest.mark.parametrize("policy", ["Delete", None, {"Fn::If": ["Prod", "Retain", "Delete"]}])
def test_removing_a_table_that_is_not_plainly_retained_loses_its_items(policy):
    old = table()
    if policy is not None:
        old["DeletionPolicy"] = policy
    rc = only(compare(template(Orders=old), template()), "Orders")
    assert rc.action == "removed" and rc.data_loss and not rc.retained


def test_retain_except_on_create_counts_as_retain():
    old = table()
    old["DeletionPolicy"] = "RetainExceptOnCreate"
    rc = only(compare(template(Orders=old), template()), "Orders")
    assert rc.retained and not rc.data_loss


def test_a_logical_id_rename_is_a_delete_plus_create_and_loses_the_table():
    d = compare(template(Orders=table()), template(OrdersV2=table()))
    assert {r.logical_id: r.action for r in d.resources} == {"Orders": "removed", "OrdersV2": "added"}
    rc = only(d, "Orders")
    assert rc.data_loss and any("looks like a rename to OrdersV2" in n for n in rc.notes)


def test_a_rename_of_a_retained_table_is_data_loss_too():
    # The old table survives, detached; the stack continues with an empty one: the service's data is gone from it.
    rc = only(compare(template(Orders=table(retain=True)), template(OrdersV2=table(retain=True))), "Orders")
    assert rc.retained and rc.data_loss and any("OrdersV2" in n and "starts empty" in n for n in rc.notes)


def test_a_retained_resource_with_a_fixed_name_blocks_its_successor():
    old, new = table(retain=True, TableName="orders"), table(retain=True, TableName="orders")
    rc = only(compare(template(Orders=old), template(OrdersV2=new)), "Orders")
    assert any("same TableName" in n and "fails" in n for n in rc.notes)


def test_replacing_a_custom_named_resource_fails_and_is_noted():
    rc = only(compare(template(Orders=table("id", TableName="orders")), template(Orders=table("pk", TableName="orders"))), "Orders")
    assert rc.action == "replaced" and any("fixed TableName" in n for n in rc.notes)


def test_metadata_only_is_not_a_change_of_the_resource():
    new = table()
    new["Metadata"]["msgen"]["source"] = "persistence.tables[orders2]"
    d = compare(template(Orders=table()), template(Orders=new))
    rc = only(d, "Orders")
    assert rc.action == "metadata" and rc.changes == [] and not rc.data_loss
    assert [c.path for c in rc.metadata] == ["Metadata.msgen.source"]
    assert d.counts()["modified"] == 0 and d.counts()["metadata"] == 1
    assert "Metadata only" in render_text(d, "old", "new")


def test_dependson_order_only_is_metadata_but_a_new_dependency_is_a_modification():
    a = {**function(), "DependsOn": ["A", "B"]}
    rc = only(compare(template(Fn=a), template(Fn={**function(), "DependsOn": ["B", "A"]})), "Fn")
    assert rc.action == "metadata" and rc.metadata[0].note == "order only"
    rc = only(compare(template(Fn=a), template(Fn={**function(), "DependsOn": ["A", "B", "C"]})), "Fn")
    assert rc.action == "modified" and [c.path for c in rc.changes] == ["DependsOn"]


def test_a_changed_type_is_a_replacement_and_loses_the_old_types_data():
    old = template(Store={"Type": "AWS::SQS::Queue", "Properties": {}})
    new = template(Store={"Type": "AWS::SNS::Topic", "Properties": {}})
    rc = only(compare(old, new), "Store")
    assert rc.action == "replaced" and rc.replacement[0].property == "Type" and rc.old_type == "AWS::SQS::Queue"
    assert rc.data_loss and rc.holds_data == DATA_HOLDING["AWS::SQS::Queue"]


def test_a_replaced_api_deployment_is_not_data_loss():
    old = template(Deployment={"Type": "AWS::ApiGateway::Deployment", "Properties": {"RestApiId": {"Ref": "Api"}}})
    new = template(Deployment={"Type": "AWS::ApiGateway::Deployment", "Properties": {"RestApiId": {"Ref": "Api2"}}})
    d = compare(old, new)
    rc = only(d, "Deployment")
    assert rc.action == "replaced" and rc.replacement[0].property == "RestApiId"
    assert not rc.data_loss and not rc.holds_data and d.data_loss == []


def test_a_create_only_reference_to_a_replaced_resource_replaces_the_referrer():
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "a"}, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    policy = {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Receipts"}, "PolicyDocument": {}}}
    reader = function(Environment={"Variables": {"BUCKET": {"Fn::Sub": "${Receipts.Arn}/*"}}})
    old = template(Receipts=bucket, ReceiptsPolicy=policy, Fn=reader)
    new = copy.deepcopy(old)
    new["Resources"]["Receipts"]["Properties"]["BucketName"] = "b"
    d = compare(old, new)
    rc = only(d, "ReceiptsPolicy")
    assert rc.action == "replaced" and rc.replacement[0].reason == "refers to Receipts, which is replaced"
    fn = only(d, "Fn")  # a property that is not create-only changes value: modified in place
    assert fn.action == "modified" and fn.changes[0].path == "Properties.Environment" and "Receipts" in fn.changes[0].note


def test_nested_pointers_with_wildcards_select_what_is_compared():
    # AWS::MSK::Replicator: /properties/ReplicationInfoList/*/TargetCompressionType is create-only, TopicsToReplicate is not.
    def replicator(compression="NONE", topics=("a",), items=1):
        info = {"SourceKafkaClusterArn": "s", "TargetKafkaClusterArn": "t", "TargetCompressionType": compression,
                "TopicReplication": {"TopicsToReplicate": list(topics)}, "ConsumerGroupReplication": {"ConsumerGroupsToReplicate": []}}
        return template(R={"Type": "AWS::MSK::Replicator", "Properties": {"ReplicatorName": "r", "ReplicationInfoList": [info] * items}})

    assert only(compare(replicator(), replicator(topics=("a", "b"))), "R").action == "modified"
    rc = only(compare(replicator(), replicator(compression="GZIP")), "R")
    assert rc.action == "replaced" and [r.property for r in rc.replacement] == ["ReplicationInfoList[*].TargetCompressionType"]
    assert only(compare(replicator(), replicator(items=2)), "R").action == "replaced"  # another item: the selection changes


def test_project_and_pointers():
    assert pointer_parts("/properties/A/*/B~1C~0") == ["A", "*", "B/C~"]
    assert pointer_label("/properties/L/*/Name") == "L[*].Name" and pointer_label("/properties/KeySchema") == "KeySchema"
    props = {"L": [{"Name": "a", "X": 1}, {"Name": "b"}], "M": {"k": {"Name": "c"}}}
    assert project(props, ["L", "*", "Name"]) == ["a", "b"]
    assert project(props, ["M", "*", "Name"]) == {"k": "c"}
    assert project(props, ["Nope", "Name"]) is MISSING
    assert project({"L": {"Fn::If": ["C", [1], [2]]}}, ["L", "*", "Name"]) == {"Fn::If": ["C", [1], [2]]}  # compared as written
    assert project({"L": [{"N": 1}]}, ["L", "0", "N"]) == 1 and project({"L": []}, ["L", "0", "N"]) is MISSING


def test_references_through_ref_getatt_and_sub():
    value = {"A": {"Ref": "Key"}, "B": {"Fn::GetAtt": ["Table", "Arn"]}, "C": {"Fn::GetAtt": "Queue.Arn"},
             "D": {"Fn::Sub": "${Bucket.Arn}/x-${AWS::Region}-${!Literal}"}, "E": {"Fn::Sub": ["${Own}-${Topic}", {"Own": "x"}]}}
    assert references(value) == {"Key", "Table", "Queue", "Bucket", "AWS::Region", "Topic"}


def test_an_unknown_type_is_modified_with_a_note():
    old = template(X={"Type": "AWS::Nope::Thing", "Properties": {"A": 1}})
    new = template(X={"Type": "AWS::Nope::Thing", "Properties": {"A": 2}})
    rc = only(compare(old, new), "X")
    assert rc.action == "modified" and any("no schema" in n for n in rc.notes)


def test_a_cluster_deleted_with_a_snapshot_is_still_data_loss():
    cluster = {"Type": "AWS::RDS::DBCluster", "Properties": {"Engine": "aurora-postgresql"}}  # default DeletionPolicy: Snapshot
    rc = only(compare(template(Db=cluster), template()), "Db")
    assert rc.data_loss and rc.policy == "DeletionPolicy Snapshot" and any("snapshot" in n for n in rc.notes)


def test_parameters_outputs_and_conditions_are_listed_separately():
    old = {**template(Fn=function()), "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
           "Outputs": {"Name": {"Value": "x", "Export": {"Name": "svc-name"}}}, "Conditions": {"Prod": {"Fn::Equals": ["a", "b"]}}}
    new = {**template(Fn=function()), "Parameters": {"Env": {"Type": "String", "Default": "prod"}, "Image": {"Type": "String"}},
           "Conditions": {"Prod": {"Fn::Equals": ["a", "c"]}}, "Description": "new"}
    d = compare(old, new)
    assert d.resources == []
    got = {(s.section, s.name, s.action) for s in d.sections}
    assert got == {("Parameters", "Env", "modified"), ("Parameters", "Image", "added"), ("Outputs", "Name", "removed"),
                   ("Conditions", "Prod", "modified"), ("Description", "", "added")}
    notes = {s.name: s.note for s in d.sections}
    assert "no Default" in notes["Image"] and "import" in notes["Name"]
    text = render_text(d, "old", "new")
    assert "Template sections:" in text and "modified Parameters.Env: Default: dev -> prod" in text


def test_json_is_serializable_and_lists_data_loss_and_what_is_allowed():
    old = {**template(Orders=table(), Other=table()), "Metadata": {"when": datetime.date(2024, 1, 1)}}
    d = compare(old, template())
    data = d.to_dict(allowed=["Orders", "NotThere"])
    json.dumps(data)
    assert data["data_loss"] == ["Orders", "Other"] and data["allowed"] == ["Orders"] and data["unallowed"] == ["Other"]
    assert data["counts"]["removed"] == 2 and data["resources"][0]["changes"] == []


def test_long_values_show_where_they_differ():
    a, b = "x" * 200 + "payment" + "y" * 50, "x" * 200 + "ledger" + "y" * 50
    text = pair(a, b)
    assert "payment" in text and "ledger" in text and len(text) < 160


def test_a_retained_removal_next_to_a_new_resource_of_its_type_is_data_loss():
    rc = only(compare(template(Orders=table("id", retain=True)), template(Invoices=table("invoice_id", retain=True))), "Orders")
    assert rc.retained and rc.data_loss and any(n.startswith("Invoices of the same type is added") for n in rc.notes)
    assert not any("rename" in n for n in rc.notes)  # different properties: not called a rename


def test_json_says_null_for_a_value_absent_from_one_template():
    d = compare(template(Fn=function()), template(Fn=function(Timeout=10)))
    (change,) = d.to_dict()["resources"][0]["changes"]
    assert change == {"path": "Properties.Timeout", "old": None, "new": 10, "note": ""}
