# Homebrew formula for openclawd: built from source with Go, run by
# `sudo brew services` as a LaunchDaemon, so the gateway comes back after an
# unattended reboot with nobody logged in. Copy it into a tap as
# Formula/openclawd.rb. Checked here with `ruby -c` only (packaging tests).
class Openclawd < Formula
  desc "Runs an OpenClaw gateway as a self-healing service"
  homepage "https://github.com/openclawd/openclawd"
  # PLACEHOLDERS, replace at each release: the tag's source tarball and its
  # `shasum -a 256`. Until then `brew install` fails the checksum, and
  # `brew install --HEAD` builds the main branch.
  url "https://github.com/openclawd/openclawd/archive/refs/tags/v0.0.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  # No license line: the project has not chosen one yet.
  head "https://github.com/openclawd/openclawd.git", branch: "main"

  depends_on "go" => :build

  def install
    ldflags = "-s -w -X github.com/openclawd/openclawd/daemon.Version=#{version}"
    system "go", "build", *std_go_args(ldflags:), "./cmd/openclawd"
    # The macOS config skeleton, written for /usr/local: made for this
    # prefix (Apple Silicon: /opt/homebrew). post_install copies it to etc.
    skeleton = (buildpath/"packaging/homebrew/openclawd.yaml").read
    (pkgshare/"openclawd.yaml").write skeleton.gsub("/usr/local/", "#{HOMEBREW_PREFIX}/")
  end

  def post_install
    (var/"openclawd").mkpath
    (var/"log/openclawd").mkpath
    # The control socket's directory: macOS empties /var/run at boot and only
    # root may write there, so the config puts the socket here.
    (var/"run/openclawd").mkpath
    (etc/"openclawd").mkpath
    # Only if absent: etc survives upgrades, and so do the user's edits.
    config = etc/"openclawd/openclawd.yaml"
    cp pkgshare/"openclawd.yaml", config unless config.exist?
    env = etc/"openclawd/gateway.env"
    return if env.exist?

    env.write <<~EOS
      # Secrets for the OpenClaw gateway (API keys, bot tokens): KEY=VALUE
      # lines, passed to its environment (gateway.env_file). openclawd refuses
      # this file unless it is mode 0600; it must belong to _openclawd.
    EOS
    env.chmod 0600
  end

  def caveats
    <<~EOS
      openclawd runs the gateway as the unprivileged user _openclawd. Once,
      create it and give it #{var}/openclawd, #{var}/log/openclawd,
      #{var}/run/openclawd and #{etc}/openclawd/gateway.env; optionally turn
      on HTTPS:
        sudo openclawd setup --config #{etc}/openclawd/openclawd.yaml
      Then run it at boot, before anyone logs in (a LaunchDaemon):
        sudo brew services start --sudo-service-user _openclawd openclawd
      How it is:
        sudo openclawd status --config #{etc}/openclawd/openclawd.yaml
    EOS
  end

  service do
    run [opt_bin/"openclawd", "run", "--config", etc/"openclawd/openclawd.yaml"]
    # With sudo: /Library/LaunchDaemons, started at boot without a login.
    require_root true
    # Restart whatever the exit; a clean stop is `brew services stop`.
    keep_alive true
    working_dir var/"openclawd"
    log_path var/"log/openclawd/openclawd.out.log"
    error_log_path var/"log/openclawd/openclawd.err.log"
    # Caddy keeps instance data under $XDG_DATA_HOME (else ~/.local/share).
    environment_variables HOME: "#{var}/openclawd", XDG_DATA_HOME: "#{var}/openclawd/caddy-xdg"
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/openclawd version")
    # The installed skeleton validates; only the env file (which validate
    # reads) and the state dir point into the sandbox.
    env = testpath/"gateway.env"
    env.write "# no secrets\n"
    env.chmod 0600
    skeleton = (pkgshare/"openclawd.yaml").read
    config = testpath/"openclawd.yaml"
    config.write skeleton.gsub("#{etc}/openclawd/gateway.env", env.to_s)
                         .gsub("#{var}/openclawd", (testpath/"state").to_s)
    assert_match "valid", shell_output("#{bin}/openclawd validate --config #{config}")
  end
end
