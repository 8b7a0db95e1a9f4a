from etcdops.cli.main import main

main()
