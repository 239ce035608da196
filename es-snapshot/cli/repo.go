package cli

import (
	"context"
	"encoding/json"

	"cronbox/clikit"
	"cronbox/es-snapshot/esclient"
	"cronbox/es-snapshot/snapshot"
)

// repoOptions are repo ensure's flags: the repository's registration.
type repoOptions struct {
	repo                                         repository
	typ, bucket, basePath, client, location, raw string
	settings                                     map[string]any
}

func (o *repoOptions) define(fs *clikit.FlagSet) {
	o.repo.define(fs)
	fs.String(&o.typ, "type", "s3", "repository type: s3, fs, or any other with --settings", "ES_REPOSITORY_TYPE")
	fs.String(&o.bucket, "bucket", "", "s3: the bucket", "AWS_S3_BUCKET")
	fs.String(&o.basePath, "base-path", "", "s3: the key prefix inside the bucket", "ES_S3_BASE_PATH")
	fs.String(&o.client, "client", "", `s3: the node's S3 client (s3.client.NAME.* settings, credentials in the node keystore); the server's default is "default"`, "ES_S3_CLIENT")
	fs.String(&o.location, "location", "", "fs: the directory, under the node's path.repo", "ES_FS_LOCATION")
	fs.String(&o.raw, "settings", "", `repository settings as a JSON object, merged over the above (e.g. {"compress":true})`, "ES_REPOSITORY_SETTINGS")
}

// check builds the settings the repository is registered with.
func (o *repoOptions) check(fs *clikit.FlagSet, _ []string) error {
	if err := o.repo.check(fs); err != nil {
		return err
	}
	o.settings = map[string]any{}
	set := func(k, v string) {
		if v != "" {
			o.settings[k] = v
		}
	}
	switch o.typ {
	case "s3":
		set("bucket", o.bucket)
		set("base_path", o.basePath)
		set("client", o.client)
	case "fs":
		set("location", o.location)
	case "":
		return usagef("--type is empty")
	}
	if o.raw != "" {
		var extra map[string]any
		if err := json.Unmarshal([]byte(o.raw), &extra); err != nil {
			return usagef("--settings / ES_REPOSITORY_SETTINGS: not a JSON object: %v", err)
		}
		for k, v := range extra {
			o.settings[k] = v
		}
	}
	switch {
	case o.typ == "s3" && o.settings["bucket"] == nil:
		return usagef("an s3 repository needs a bucket: set --bucket or AWS_S3_BUCKET")
	case o.typ == "fs" && o.settings["location"] == nil:
		return usagef("an fs repository needs a location: set --location or ES_FS_LOCATION")
	case o.typ != "s3" && o.typ != "fs" && len(o.settings) == 0:
		return usagef("a %s repository needs its settings: set --settings or ES_REPOSITORY_SETTINGS", o.typ)
	}
	return nil
}

// run is `es-snapshot repo ensure`: the repository registered
// (again, when it differs) and verified.
func (o *repoOptions) run(ctx context.Context, r *snapshot.Runner, env Env) error {
	if o.typ == "s3" && env.Getenv("AWS_S3_REGION") != "" {
		// The original job sent region; Elasticsearch 6 removed that setting
		// and refuses it. The node's S3 client settings carry the endpoint.
		r.Log.Info("AWS_S3_REGION is not sent: S3 repositories take region and endpoint from the node's s3.client.* settings")
	}
	_, err := r.EnsureRepo(ctx, o.repo.name, esclient.Repository{Type: o.typ, Settings: o.settings})
	return err
}
